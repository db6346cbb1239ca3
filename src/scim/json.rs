//! JSON helpers the protocol code shares. SCIM attribute names are case-insensitive
//! (RFC 7643 §2.1), so lookups try the exact key first and then any casing.

use serde_json::{Map, Value};

/// The value under `key`, matched exactly or else case-insensitively.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_key_first_then_any_casing() {
        let o = serde_json::json!({"userName": 1, "USERNAME": 2, "Emails": 3});
        let o = o.as_object().unwrap();
        assert_eq!(get_ci(o, "userName"), Some(&serde_json::json!(1)));
        assert_eq!(get_ci(o, "emails"), Some(&serde_json::json!(3)));
        assert_eq!(get_ci(o, "title"), None);
    }
}
