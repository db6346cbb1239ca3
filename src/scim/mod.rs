//! The SCIM 2.0 protocol (RFC 7643, RFC 7644) as pure code: schemas, canonical resource
//! bodies, the filter grammar, the PATCH engine, list parameters, discovery documents and the
//! §3.12 error. It imports nothing from the rest of the crate and does no I/O, so every rule
//! here is table- and property-tested on its own.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod json;
pub mod list;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
