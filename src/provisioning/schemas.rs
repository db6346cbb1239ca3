//! scimgate's own SCIM schema: the product extension of User (its `role` attribute) and the
//! wording of scimgate's discovery documents, registered with [`crate::scim`] through
//! [`REGISTRY`].
//!
//! The registry is a `static`, not a field of the application state: it is fixed at compile
//! time, so there is nothing to configure or to thread through every request, and callers
//! (provisioning, the SCIM handlers, benches and tests) pass `&REGISTRY` to the `scim`
//! functions that take a [`SchemaRegistry`]. If it ever came from configuration, it would
//! move into `ScimContext`.

use crate::scim::schema::{AttrDef, SchemaDef};
use crate::scim::{RoleAttribute, SchemaRegistry, ServiceProvider};
use serde_json::{Map, Value};

pub const SCIMGATE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:scimgate:2.0:User";

pub const SCIMGATE_USER_ATTRS: &[AttrDef] = &[AttrDef::string(
    "role",
    "The product role; must be one of the organization's allowed role names.",
)];

pub const SCIMGATE_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: SCIMGATE_USER_SCHEMA,
    name: "ScimgateUser",
    description: "scimgate product attributes (role mapping)",
    attributes: SCIMGATE_USER_ATTRS,
};

/// What scimgate serves beyond RFC 7643.
pub static REGISTRY: SchemaRegistry = SchemaRegistry {
    user_extensions: &[&SCIMGATE_SCHEMA_DEF],
    group_extensions: &[],
    role: Some(RoleAttribute {
        schema: &SCIMGATE_SCHEMA_DEF,
        attr: &SCIMGATE_USER_ATTRS[0],
    }),
    service_provider: ServiceProvider {
        documentation_uri: Some("https://github.com/scimgate/scimgate#readme"),
        authentication_description: "A SCIM token generated in the scimgate console, sent as 'Authorization: Bearer <token>'. Passwords are never stored or synchronised.",
        password_description: Some(
            "Not stored: scimgate does not offer password synchronisation.",
        ),
    },
};

/// The product role of a canonical user body (the scimgate extension's `role`), if a string.
pub fn role_of(attrs: &Map<String, Value>) -> Option<&str> {
    attrs
        .get(SCIMGATE_USER_SCHEMA)
        .and_then(|e| e.get("role"))
        .and_then(Value::as_str)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::discovery as d;
    use crate::scim::resource::canonicalize;
    use crate::scim::schema::ResourceKind;
    use serde_json::json;

    #[test]
    fn discovery_lists_the_product_extension_and_wording() {
        let limits = d::Limits {
            max_results: 1,
            bulk_max_operations: 1,
            bulk_max_payload: 1,
        };
        let spc = d::service_provider_config(&REGISTRY, "b", &limits);
        assert_eq!(
            spc["documentationUri"],
            "https://github.com/scimgate/scimgate#readme"
        );
        let ext = d::find_schema(&REGISTRY, "b", SCIMGATE_USER_SCHEMA).unwrap();
        assert_eq!(ext["attributes"][0]["name"], "role");
        let user = d::resource_type(&REGISTRY, "b", ResourceKind::User);
        assert_eq!(user["schemaExtensions"][1]["schema"], SCIMGATE_USER_SCHEMA);
    }

    #[test]
    fn okta_top_level_role_lands_in_the_extension() {
        let attrs = canonicalize(
            &REGISTRY,
            ResourceKind::User,
            &json!({"userName": "a", "role": {"role": "admin"}}),
        )
        .unwrap();
        assert_eq!(role_of(&attrs), Some("admin"));
    }
}
