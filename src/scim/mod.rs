//! The SCIM 2.0 protocol (RFC 7643, RFC 7644) as pure code: schemas, canonical resource
//! bodies, the filter grammar, the PATCH engine, list parameters, discovery documents and the
//! §3.12 error. It imports nothing from the rest of the crate (but for one transitional
//! re-export in [`schema`]) and does no I/O, so every rule here is table- and property-tested
//! on its own.
//!
//! It knows the RFC 7643 schemas (User, Group, EnterpriseUser) and no application: the
//! application's own extension schemas, the attribute that carries a user's role and the
//! wording of the discovery documents come from the [`SchemaRegistry`] the caller builds and
//! passes to canonicalisation, PATCH, projection and discovery.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod json;
pub mod list;
pub mod patch;
pub mod registry;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
pub use registry::{RoleAttribute, SchemaRegistry, ServiceProvider};
