//! Secrets the server must be able to read back (webhook signing secrets: an HMAC needs the
//! key itself) are stored sealed: XChaCha20-Poly1305 under the installation's key, never in
//! clear. The key comes from `--secrets-key` (base64 of 32 bytes, the same on every instance
//! sharing a database); a SQLite installation without one gets a key file beside its
//! database, created on first use and readable by its owner only.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::sync::OnceLock;

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no secrets key is configured: set SCIMGATE_SECRETS_KEY (base64 of 32 random bytes, the same on every instance), e.g. `openssl rand -base64 32`")]
    NoKey,
    #[error("the secrets key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("a sealed secret could not be opened (wrong secrets key?)")]
    Corrupt,
    #[error("cannot use the key file {0}: {1}")]
    KeyFile(String, String),
}

/// Installs the process's key (once, at start-up).
pub fn set_key_base64(key: &str) -> Result<(), SealError> {
    let bytes = B64.decode(key.trim()).map_err(|_| SealError::BadKey)?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
    let _ = KEY.set(key);
    Ok(())
}

/// Reads the key from `path`, creating it (0600, random) if it does not exist.
pub fn use_key_file(path: &std::path::Path) -> Result<(), SealError> {
    let fail = |e: std::io::Error| SealError::KeyFile(path.display().to_string(), e.to_string());
    if !path.exists() {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, B64.encode(bytes).as_bytes()).map_err(fail)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(fail)?;
    set_key_base64(&text)
}

/// Installs the key for this process: `configured` if given, else (SQLite) the key file
/// beside the database. Without either, sealing fails with [`SealError::NoKey`] when used.
pub fn install(
    configured: Option<&str>,
    sqlite_path: Option<&std::path::Path>,
) -> Result<(), SealError> {
    match (configured.filter(|k| !k.trim().is_empty()), sqlite_path) {
        (Some(k), _) => set_key_base64(k),
        (None, Some(db)) => {
            let mut p = db.as_os_str().to_owned();
            p.push(".secrets-key");
            use_key_file(std::path::Path::new(&p))
        }
        (None, None) => Ok(()),
    }
}

fn cipher() -> Result<XChaCha20Poly1305, SealError> {
    let key = KEY.get().ok_or(SealError::NoKey)?;
    Ok(XChaCha20Poly1305::new(key.into()))
}

/// `v1:` + base64(nonce ‖ ciphertext).
pub fn seal(plain: &str) -> Result<String, SealError> {
    let c = cipher()?;
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    out.extend(
        c.encrypt(&nonce, plain.as_bytes())
            .map_err(|_| SealError::Corrupt)?,
    );
    Ok(format!("v1:{}", B64.encode(out)))
}

pub fn open(sealed: &str) -> Result<String, SealError> {
    let c = cipher()?;
    let raw = sealed
        .strip_prefix("v1:")
        .and_then(|b| B64.decode(b).ok())
        .filter(|r| r.len() > 24)
        .ok_or(SealError::Corrupt)?;
    let (nonce, body) = raw.split_at(24);
    let plain = c
        .decrypt(XNonce::from_slice(nonce), body)
        .map_err(|_| SealError::Corrupt)?;
    String::from_utf8(plain).map_err(|_| SealError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_and_do_not_show_the_secret() {
        set_key_base64(&B64.encode([7u8; 32])).unwrap();
        let s = seal("whsec_c2VjcmV0").unwrap();
        assert!(!s.contains("whsec_"));
        assert_ne!(
            s,
            seal("whsec_c2VjcmV0").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(open(&s).unwrap(), "whsec_c2VjcmV0");
        let mut tampered = s.clone();
        tampered.pop();
        tampered.push('A');
        assert!(open(&tampered).is_err() || tampered == s);
        assert!(set_key_base64("short").is_err());
    }
}
