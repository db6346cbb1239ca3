//! Console sessions at rest. tower-sessions' SQL stores keep the session id (the cookie's
//! value) as the row key: anyone who can read the database, or a copy of it, could sign in
//! as every admin with a live session. [`HashedIds`] stores each session under the SHA-256
//! of its id instead; the cookie still carries the id itself, and the store never sees it.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

#[derive(Clone, Debug)]
pub struct HashedIds<S>(pub S);

/// The stored key of a session id: 128 bits of its SHA-256, domain-separated.
pub fn stored_id(id: &Id) -> Id {
    let mut h = Sha256::new();
    h.update(b"scimgate-session-v1:");
    h.update(id.0.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

fn stored(record: &Record) -> Record {
    Record {
        id: stored_id(&record.id),
        data: record.data.clone(),
        expiry_date: record.expiry_date,
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for HashedIds<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id whose stored key is free (a clash of 128-bit ids is theoretical,
        // but the inner stores check too, and so does this).
        while self.0.load(&stored_id(&record.id)).await?.is_some() {
            record.id = Id::default();
        }
        self.0.save(&stored(record)).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.save(&stored(record)).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.0.load(&stored_id(id)).await?.map(|mut r| {
            r.id = *id;
            r
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.delete(&stored_id(id)).await
    }
}

#[async_trait]
impl<S: ExpiredDeletion + Clone> ExpiredDeletion for HashedIds<S> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.0.delete_expired().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::MemoryStore;

    #[tokio::test]
    async fn the_inner_store_never_sees_the_session_id() {
        let inner = MemoryStore::default();
        let store = HashedIds(inner.clone());
        let mut r = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::hours(1),
        };
        r.data.insert("admin_id".into(), serde_json::json!("a1"));
        store.create(&mut r).await.unwrap();
        assert!(
            inner.load(&r.id).await.unwrap().is_none(),
            "not under the id"
        );
        let kept = inner.load(&stored_id(&r.id)).await.unwrap().unwrap();
        assert_eq!(kept.data, r.data);
        let loaded = store.load(&r.id).await.unwrap().unwrap();
        assert_eq!(loaded.id, r.id);
        // Presenting the stored key as a cookie finds nothing.
        assert!(store.load(&stored_id(&r.id)).await.unwrap().is_none());
        store.delete(&r.id).await.unwrap();
        assert!(inner.load(&stored_id(&r.id)).await.unwrap().is_none());
        assert_ne!(stored_id(&r.id), r.id);
    }
}
