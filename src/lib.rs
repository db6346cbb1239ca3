#[cfg(feature = "ssr")]
pub mod scim;
