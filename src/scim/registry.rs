//! What the application adds to the RFC 7643 schemas: its own extension schemas, the
//! extension attribute that carries a user's role (if any), and the wording of its discovery
//! documents. The application builds one [`SchemaRegistry`] and passes it to every function
//! here that reads schemas (canonicalisation, PATCH, projection, discovery); this module
//! names no application.
//!
//! Definitions are `'static` (consts, or leaked once at start-up if they come from
//! configuration), so lookups hand out `&'static AttrDef` and nothing here borrows the
//! registry for longer than a call.

use super::schema::{AttrDef, ResourceKind, SchemaDef, GROUP_SCHEMA_DEF, USER_SCHEMA_DEF};
use serde_json::{Map, Value};

/// The schemas a service provider serves beyond RFC 7643's, and how it describes itself.
#[derive(Debug)]
pub struct SchemaRegistry {
    /// Extensions of User besides EnterpriseUser, in the order discovery lists them.
    pub user_extensions: &'static [&'static SchemaDef],
    /// Extensions of Group.
    pub group_extensions: &'static [&'static SchemaDef],
    /// The User extension attribute that holds the user's role; see [`RoleAttribute`].
    pub role: Option<RoleAttribute>,
    /// Wording of `/ServiceProviderConfig` and `/Schemas`.
    pub service_provider: ServiceProvider,
}

/// A single-valued string attribute of a User extension that identity providers also send
/// outside it. On create and replace, when the extension leaves it out, it is taken from a
/// top-level attribute of the same name (Okta's app attributes: `"role": "admin"` or
/// `"role": {"role": "admin"}`), else from the primary (or only) value of core `roles`; a
/// PATCH that changes `roles` but not this attribute sets it the same way. Its values may
/// come wrapped as `{"<name>": v}`, `{"value": v}` or a one-element array of those.
#[derive(Clone, Copy, Debug)]
pub struct RoleAttribute {
    /// The extension holding the attribute; one of [`SchemaRegistry::user_extensions`].
    pub schema: &'static SchemaDef,
    /// The attribute; one of `schema.attributes`.
    pub attr: &'static AttrDef,
}

/// How the service provider describes itself in the discovery documents.
#[derive(Clone, Copy, Debug)]
pub struct ServiceProvider {
    /// `documentationUri` of `/ServiceProviderConfig`; left out when `None`.
    pub documentation_uri: Option<&'static str>,
    /// Description of the OAuth bearer-token authentication scheme.
    pub authentication_description: &'static str,
    /// Description of User's `password` in `/Schemas` (passwords are never stored).
    pub password_description: Option<&'static str>,
}

impl SchemaRegistry {
    /// RFC 7643 alone: EnterpriseUser on User, no role attribute, neutral wording.
    pub const RFC7643: SchemaRegistry = SchemaRegistry {
        user_extensions: &[],
        group_extensions: &[],
        role: None,
        service_provider: ServiceProvider {
            documentation_uri: None,
            authentication_description: "A bearer token, sent as 'Authorization: Bearer <token>'.",
            password_description: None,
        },
    };

    /// Every extension `kind` accepts: the RFC 7643 ones, then the application's.
    pub fn extensions(&self, kind: ResourceKind) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        let own = match kind {
            ResourceKind::User => self.user_extensions,
            ResourceKind::Group => self.group_extensions,
        };
        kind.standard_extensions().iter().chain(own.iter()).copied()
    }

    /// The extension of `kind` whose URN equals `urn`, case-insensitively.
    pub fn extension(&self, kind: ResourceKind, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions(kind)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema served at `/Schemas`: User, Group, then the extensions of each.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        [&USER_SCHEMA_DEF, &GROUP_SCHEMA_DEF]
            .into_iter()
            .chain(self.extensions(ResourceKind::User))
            .chain(self.extensions(ResourceKind::Group))
    }

    /// The role attribute, if `kind` has one (only Users do).
    pub fn role_attribute(&self, kind: ResourceKind) -> Option<RoleAttribute> {
        match kind {
            ResourceKind::User => self.role,
            ResourceKind::Group => None,
        }
    }
}

impl RoleAttribute {
    /// Whether `def` is this attribute. Compared by value, not address: a `const` table is
    /// copied at each use, so two references to one definition may differ.
    pub fn is(&self, def: &AttrDef) -> bool {
        self.attr == def
    }

    /// The attribute's value in a canonical body.
    pub fn get<'a>(&self, attrs: &'a Map<String, Value>) -> Option<&'a Value> {
        attrs
            .get(self.schema.id)
            .and_then(|e| e.get(self.attr.name))
    }

    /// Sets the attribute in a canonical body, creating the extension object if needed.
    pub fn set(&self, attrs: &mut Map<String, Value>, value: Value) {
        let ext = attrs
            .entry(self.schema.id.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !ext.is_object() {
            *ext = Value::Object(Map::new());
        }
        if let Some(o) = ext.as_object_mut() {
            o.insert(self.attr.name.into(), value);
        }
    }
}

/// A registry for unit tests: an application extension with a `role` attribute, as an
/// application such as the one this module was written for would register.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub const EXAMPLE_USER_SCHEMA: &str = "urn:example:params:scim:schemas:extension:app:2.0:User";
    const ATTRS: &[AttrDef] = &[AttrDef::string("role", "The application role.")];
    pub const EXAMPLE_SCHEMA_DEF: SchemaDef = SchemaDef {
        id: EXAMPLE_USER_SCHEMA,
        name: "AppUser",
        description: "Application attributes",
        attributes: ATTRS,
    };
    pub static REGISTRY: SchemaRegistry = SchemaRegistry {
        user_extensions: &[&EXAMPLE_SCHEMA_DEF],
        group_extensions: &[],
        role: Some(RoleAttribute {
            schema: &EXAMPLE_SCHEMA_DEF,
            attr: &ATTRS[0],
        }),
        service_provider: ServiceProvider {
            documentation_uri: Some("https://example.com/docs"),
            authentication_description: "A token.",
            password_description: Some("Never stored."),
        },
    };
}
