//! Static files (the site root that `.ci/build` writes): the hydrate bundle and stylesheet
//! under content-hashed names, and how long browsers may keep what they fetched.
//!
//! `.ci/build` renames `pkg/scimgate.{js,wasm,css}` to `pkg/scimgate.<hash>.<ext>`, lists the
//! hashes in `<site root>/hash.txt` (cargo-leptos's format: `js: <hash>` lines) and writes
//! `.br` and `.gz` siblings of every static file. Leptos's file handler serves those
//! siblings to clients that accept them; [`cache_headers`] adds what it does not:
//! `Vary: Accept-Encoding`, and a year of `immutable` caching for hashed names only (a
//! changed file gets a new name, so a name's content never changes). Everything else, HTML
//! included, is revalidated (`no-cache`) or not stored at all (console pages: `no-store`,
//! set in `net::security_headers`).

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::path::{Path, PathBuf};

/// Name of the manifest of hashed names in the site root.
pub const HASH_FILE: &str = "hash.txt";

/// Hex digits of a content hash in a file name (`.ci/build` writes 16).
const HASH_LEN: usize = 16;

/// The site's manifest of hashed names, as an absolute path (leptos joins it to the
/// executable's directory, which an absolute path replaces), when the build wrote one.
pub fn hash_file(site_root: &str) -> Option<PathBuf> {
    let p = Path::new(site_root).join(HASH_FILE);
    if !p.is_file() {
        return None;
    }
    std::path::absolute(&p).ok()
}

/// The name the build gave `<output>.<ext>` according to the manifest at `hash_file`:
/// `<output>.<hash>.<ext>`, or `<output>.<ext>` when the manifest does not list it.
pub fn hashed_name(hash_file: Option<&Path>, output: &str, ext: &str) -> String {
    let hash = hash_file
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == ext).then(|| value.trim().to_string())
            })
        })
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric()));
    match hash {
        Some(h) => format!("{output}.{h}.{ext}"),
        None => format!("{output}.{ext}"),
    }
}

/// Whether `path` names a static file rather than a console page: the bundle under
/// `/pkg/`, or a file of `public/` at the root (`/favicon.ico`, `/robots.txt`). Console
/// routes have no dot in their first segment.
pub fn is_static_path(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path
            .strip_prefix('/')
            .is_some_and(|rest| !rest.contains('/') && rest.contains('.'))
}

/// Whether the file name in `path` carries a content hash: `<stem>.<16 hex>.<ext>`.
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts = name.rsplit('.');
    let (_ext, hash, stem) = (parts.next(), parts.next(), parts.next());
    matches!((hash, stem), (Some(h), Some(s)) if !s.is_empty()
        && h.len() == HASH_LEN
        && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

/// Caching headers on static files that were found (200, 206, 304). Responses for
/// anything else, and misses, are left as they are.
pub async fn cache_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut resp = next.run(req).await;
    let found = matches!(
        resp.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    );
    if !(read && found && is_static_path(&path)) {
        return resp;
    }
    let hdrs = resp.headers_mut();
    // The same URL answers br, gzip or identity bytes depending on Accept-Encoding.
    hdrs.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    hdrs.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if is_hashed(&path) {
            "public, max-age=31536000, immutable"
        } else {
            // Fixed names (favicon, robots.txt, a build without hashes) may change under
            // the same name: kept, but revalidated (Last-Modified) before each use.
            "no-cache"
        }),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_and_hashed_names() {
        assert!(is_static_path("/pkg/scimgate.0123456789abcdef.wasm"));
        assert!(is_static_path("/favicon.ico"));
        assert!(is_static_path("/robots.txt"));
        assert!(!is_static_path("/orgs/acme/users"));
        assert!(!is_static_path("/sign-in"));
        assert!(!is_static_path("/"));
        assert!(!is_static_path("/orgs/acme/users/a.b"));

        assert!(is_hashed("/pkg/scimgate.0123456789abcdef.wasm"));
        assert!(is_hashed("/pkg/scimgate.0123456789abcdef.js"));
        assert!(!is_hashed("/pkg/scimgate.wasm"));
        assert!(!is_hashed("/pkg/scimgate.0123456789ABCDEF.wasm"));
        assert!(!is_hashed("/pkg/scimgate.0123456789abcde.wasm"));
        assert!(!is_hashed("/pkg/.0123456789abcdef.wasm"));
        assert!(!is_hashed("/favicon.ico"));
    }

    #[test]
    fn hashed_names_come_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        assert_eq!(hash_file(root), None);
        assert_eq!(hashed_name(None, "scimgate", "css"), "scimgate.css");
        std::fs::write(
            dir.path().join(HASH_FILE),
            "js: 0123456789abcdef\nwasm: fedcba9876543210\ncss: 00112233445566ff\n",
        )
        .unwrap();
        let f = hash_file(root).unwrap();
        assert!(f.is_absolute());
        assert_eq!(
            hashed_name(Some(&f), "scimgate", "css"),
            "scimgate.00112233445566ff.css"
        );
        assert_eq!(
            hashed_name(Some(&f), "scimgate", "wasm"),
            "scimgate.fedcba9876543210.wasm"
        );
        // Not listed: the plain name.
        assert_eq!(hashed_name(Some(&f), "scimgate", "svg"), "scimgate.svg");
    }
}
