//! Discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`,
//! generated from the schema table so they can only describe what the code supports.

use super::schema::{
    AttrDef, ResourceKind, SchemaDef, ALL_SCHEMAS, ENTERPRISE_USER_SCHEMA, SCIMGATE_USER_SCHEMA,
};
use serde_json::{json, Value};

pub struct Limits {
    pub max_results: u64,
    pub bulk_max_operations: u64,
    pub bulk_max_payload: u64,
}

pub fn service_provider_config(base: &str, limits: &Limits) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimgate/scimgate#readme",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": limits.bulk_max_operations, "maxPayloadSize": limits.bulk_max_payload},
        "filter": {"supported": true, "maxResults": limits.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A SCIM token generated in the scimgate console, sent as 'Authorization: Bearer <token>'. Passwords are never stored or synchronised.",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

fn attr_json(a: &AttrDef) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": a.ty.as_str(),
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": a.mutability.as_str(),
        "returned": a.returned.as_str(),
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if !a.sub.is_empty() {
        v["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    if a.ty.as_str() == "reference" {
        v["referenceTypes"] = json!(["external", "uri"]);
    }
    v
}

pub fn schema_json(base: &str, s: &SchemaDef) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)}
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    ALL_SCHEMAS.iter().map(|s| schema_json(base, s)).collect()
}

pub fn find_schema(base: &str, urn: &str) -> Option<Value> {
    ALL_SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| schema_json(base, s))
}

pub fn resource_type(base: &str, kind: ResourceKind) -> Value {
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": kind.core().description,
        "schema": kind.core().id,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    });
    if kind == ResourceKind::User {
        v["schemaExtensions"] = json!([
            {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
            {"schema": SCIMGATE_USER_SCHEMA, "required": false}
        ]);
    }
    v
}

pub fn resource_types(base: &str) -> Vec<Value> {
    [ResourceKind::User, ResourceKind::Group]
        .iter()
        .map(|k| resource_type(base, *k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(has_null),
            Value::Object(o) => o.values().any(has_null),
            _ => false,
        }
    }

    #[test]
    fn documents_have_no_nulls_and_say_what_is_supported() {
        let spc = service_provider_config(
            "http://x/scim/v2/o",
            &Limits {
                max_results: 1000,
                bulk_max_operations: 1000,
                bulk_max_payload: 1 << 20,
            },
        );
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["etag"]["supported"], true);
        assert!(!has_null(&spc));
        for s in schemas("b") {
            assert!(!has_null(&s));
        }
        assert!(find_schema("b", "URN:ietf:params:scim:schemas:core:2.0:user").is_some());
        assert_eq!(resource_types("b").len(), 2);
    }
}
