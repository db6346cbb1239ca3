//! Discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`,
//! generated from the schema table and the caller's [`SchemaRegistry`] so they can only
//! describe what the code supports.

use super::registry::SchemaRegistry;
use super::schema::{AttrDef, ResourceKind, SchemaDef, USER_SCHEMA};
use serde_json::{json, Map, Value};

pub struct Limits {
    pub max_results: u64,
    pub bulk_max_operations: u64,
    pub bulk_max_payload: u64,
}

pub fn service_provider_config(reg: &SchemaRegistry, base: &str, limits: &Limits) -> Value {
    let sp = &reg.service_provider;
    let mut doc = Map::new();
    doc.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]),
    );
    if let Some(uri) = sp.documentation_uri {
        doc.insert("documentationUri".into(), json!(uri));
    }
    let rest = json!({
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": limits.bulk_max_operations, "maxPayloadSize": limits.bulk_max_payload},
        "filter": {"supported": true, "maxResults": limits.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": sp.authentication_description,
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    });
    if let Value::Object(rest) = rest {
        doc.extend(rest);
    }
    Value::Object(doc)
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

pub fn schema_json(reg: &SchemaRegistry, base: &str, s: &SchemaDef) -> Value {
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)}
    });
    if let (true, Some(d)) = (
        s.id == USER_SCHEMA,
        reg.service_provider.password_description,
    ) {
        let password = v["attributes"]
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|a| a["name"] == "password"));
        if let Some(p) = password {
            p["description"] = json!(d);
        }
    }
    v
}

pub fn schemas(reg: &SchemaRegistry, base: &str) -> Vec<Value> {
    reg.schemas().map(|s| schema_json(reg, base, s)).collect()
}

pub fn find_schema(reg: &SchemaRegistry, base: &str, urn: &str) -> Option<Value> {
    reg.schemas()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| schema_json(reg, base, s))
}

pub fn resource_type(reg: &SchemaRegistry, base: &str, kind: ResourceKind) -> Value {
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": kind.core().description,
        "schema": kind.core().id,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    });
    let extensions: Vec<Value> = reg
        .extensions(kind)
        .map(|e| json!({"schema": e.id, "required": false}))
        .collect();
    if !extensions.is_empty() {
        v["schemaExtensions"] = Value::Array(extensions);
    }
    v
}

pub fn resource_types(reg: &SchemaRegistry, base: &str) -> Vec<Value> {
    [ResourceKind::User, ResourceKind::Group]
        .iter()
        .map(|k| resource_type(reg, base, *k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::registry::testing;

    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(has_null),
            Value::Object(o) => o.values().any(has_null),
            _ => false,
        }
    }

    const LIMITS: Limits = Limits {
        max_results: 1000,
        bulk_max_operations: 1000,
        bulk_max_payload: 1 << 20,
    };

    #[test]
    fn documents_have_no_nulls_and_say_what_is_supported() {
        for reg in [&SchemaRegistry::RFC7643, &testing::REGISTRY] {
            let spc = service_provider_config(reg, "http://x/scim/v2/o", &LIMITS);
            assert_eq!(spc["changePassword"]["supported"], false);
            assert_eq!(spc["etag"]["supported"], true);
            assert!(!has_null(&spc));
            for s in schemas(reg, "b") {
                assert!(!has_null(&s));
            }
            assert!(find_schema(reg, "b", "URN:ietf:params:scim:schemas:core:2.0:user").is_some());
            assert_eq!(resource_types(reg, "b").len(), 2);
        }
    }

    #[test]
    fn the_registry_supplies_extensions_and_wording() {
        let plain = SchemaRegistry::RFC7643;
        let spc = service_provider_config(&plain, "b", &LIMITS);
        assert!(spc.get("documentationUri").is_none());
        assert_eq!(schemas(&plain, "b").len(), 3);
        let user = resource_type(&plain, "b", ResourceKind::User);
        assert_eq!(user["schemaExtensions"].as_array().map(Vec::len), Some(1));
        assert!(resource_type(&plain, "b", ResourceKind::Group)
            .get("schemaExtensions")
            .is_none());

        let reg = &testing::REGISTRY;
        let spc = service_provider_config(reg, "b", &LIMITS);
        let keys: Vec<&String> = spc.as_object().unwrap().keys().take(2).collect();
        assert_eq!(keys, ["schemas", "documentationUri"]);
        assert_eq!(spc["authenticationSchemes"][0]["description"], "A token.");
        let ids: Vec<Value> = schemas(reg, "b")
            .into_iter()
            .map(|s| s["id"].clone())
            .collect();
        assert_eq!(ids[3], testing::EXAMPLE_USER_SCHEMA);
        assert_eq!(ids.len(), 4);
        let user = find_schema(reg, "b", USER_SCHEMA).unwrap();
        let password = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(password["description"], "Never stored.");
        let rt = resource_type(reg, "b", ResourceKind::User);
        assert_eq!(
            rt["schemaExtensions"][1]["schema"],
            testing::EXAMPLE_USER_SCHEMA
        );
    }
}
