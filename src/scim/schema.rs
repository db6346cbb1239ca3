//! Attribute definitions of the RFC 7643 resource types (§4, §8.7): User, Group and the
//! EnterpriseUser extension. One table drives input canonicalisation, filter validation,
//! `caseExact` comparison, projection and the `/Schemas` discovery document. Extensions of
//! the application's own come from the caller's [`SchemaRegistry`](super::registry::SchemaRegistry).

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Complex,
    Reference,
    DateTime,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Complex => "complex",
            AttrType::Reference => "reference",
            AttrType::DateTime => "dateTime",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
    Never,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Default => "default",
            Returned::Never => "never",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub unique: bool,
    pub sub: &'static [AttrDef],
    pub description: &'static str,
}

impl AttrDef {
    /// A single-valued, optional, read-write, case-insensitive string: the common case, and
    /// the base for the other kinds with struct-update syntax
    /// (`AttrDef { required: true, ..AttrDef::string("x", "…") }`).
    pub const fn string(name: &'static str, description: &'static str) -> AttrDef {
        s(name, description)
    }
}

const fn s(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty: AttrType::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        sub: &[],
        description,
    }
}

const fn b(name: &'static str, description: &'static str) -> AttrDef {
    let mut a = s(name, description);
    a.ty = AttrType::Boolean;
    a
}

const fn r(name: &'static str, description: &'static str) -> AttrDef {
    let mut a = s(name, description);
    a.ty = AttrType::Reference;
    a
}

const fn complex(
    name: &'static str,
    sub: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    let mut a = s(name, description);
    a.ty = AttrType::Complex;
    a.sub = sub;
    a
}

const fn multi(name: &'static str, sub: &'static [AttrDef], description: &'static str) -> AttrDef {
    let mut a = complex(name, sub, description);
    a.multi = true;
    a
}

const fn read_only(mut a: AttrDef) -> AttrDef {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn case_exact(mut a: AttrDef) -> AttrDef {
    a.case_exact = true;
    a
}

const MULTI_SUB: &[AttrDef] = &[
    s("value", "The attribute's value."),
    s("display", "A human-readable name."),
    s("type", "A label such as work or home."),
    b("primary", "Whether this is the preferred value."),
];

const ADDRESS_SUB: &[AttrDef] = &[
    s("formatted", "The full mailing address."),
    s("streetAddress", "Street address."),
    s("locality", "City or locality."),
    s("region", "State or region."),
    s("postalCode", "Zip or postal code."),
    s("country", "Country."),
    s("type", "A label such as work or home."),
    b("primary", "Whether this is the preferred address."),
];

const NAME_SUB: &[AttrDef] = &[
    s("formatted", "The full name."),
    s("familyName", "Family name."),
    s("givenName", "Given name."),
    s("middleName", "Middle name."),
    s("honorificPrefix", "Honorific prefix."),
    s("honorificSuffix", "Honorific suffix."),
];

const GROUP_REF_SUB: &[AttrDef] = &[
    read_only(s("value", "The id of a group the user belongs to.")),
    read_only(r("$ref", "The URI of the group.")),
    read_only(s("display", "The group's displayName.")),
    read_only(s("type", "direct")),
];

pub const USER_ATTRS: &[AttrDef] = &[
    AttrDef {
        required: true,
        unique: true,
        ..s(
            "userName",
            "Unique identifier of the user, compared case-insensitively.",
        )
    },
    complex("name", NAME_SUB, "The user's name."),
    s("displayName", "Name to display."),
    s("nickName", "Casual name."),
    r("profileUrl", "Profile URL."),
    s("title", "Job title."),
    s("userType", "Relationship to the organization."),
    s("preferredLanguage", "Preferred language."),
    s("locale", "Locale."),
    s("timezone", "Time zone (IANA)."),
    b(
        "active",
        "Whether the user may use the product; false is a soft deactivation.",
    ),
    AttrDef {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..s(
            "password",
            "Not stored: password synchronisation is not offered.",
        )
    },
    multi(
        "emails",
        MULTI_SUB,
        "Email addresses; every element is kept.",
    ),
    multi("phoneNumbers", MULTI_SUB, "Phone numbers."),
    multi("ims", MULTI_SUB, "Instant messaging addresses."),
    multi("photos", MULTI_SUB, "Photo URLs."),
    multi("addresses", ADDRESS_SUB, "Physical addresses."),
    read_only(multi(
        "groups",
        GROUP_REF_SUB,
        "Groups the user belongs to; managed through /Groups.",
    )),
    multi("entitlements", MULTI_SUB, "Entitlements."),
    multi("roles", MULTI_SUB, "Roles."),
    multi("x509Certificates", MULTI_SUB, "Certificates."),
];

const MANAGER_SUB: &[AttrDef] = &[
    s("value", "The id of the manager."),
    r("$ref", "The URI of the manager."),
    read_only(s("displayName", "The manager's displayName.")),
];

pub const ENTERPRISE_ATTRS: &[AttrDef] = &[
    s("employeeNumber", "Employee number."),
    s("costCenter", "Cost center."),
    s("organization", "Organization."),
    s("division", "Division."),
    s("department", "Department."),
    complex("manager", MANAGER_SUB, "The user's manager."),
];

const MEMBER_SUB: &[AttrDef] = &[
    AttrDef {
        mutability: Mutability::Immutable,
        ..case_exact(s("value", "The id of a member user."))
    },
    r("$ref", "The URI of the member (ignored on input)."),
    s("display", "The member's displayName (ignored on input)."),
    s("type", "User"),
];

pub const GROUP_ATTRS: &[AttrDef] = &[
    AttrDef {
        required: true,
        unique: true,
        ..s(
            "displayName",
            "Group name, unique per organization among provisioned groups.",
        )
    },
    multi("members", MEMBER_SUB, "Members of the group."),
];

/// Attributes common to every resource (RFC 7643 §3.1).
pub const ID_ATTR: AttrDef = AttrDef {
    returned: Returned::Always,
    unique: true,
    ..read_only(case_exact(s("id", "Server-assigned identifier.")))
};
pub const EXTERNAL_ID_ATTR: AttrDef =
    case_exact(s("externalId", "Identifier assigned by the client."));

#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

pub const USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRS,
};
pub const ENTERPRISE_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};
pub const GROUP_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRS,
};

/// A resource type and its core schema. The extensions it accepts are the registry's
/// ([`SchemaRegistry::extensions`](super::registry::SchemaRegistry::extensions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn core(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER_SCHEMA_DEF,
            ResourceKind::Group => &GROUP_SCHEMA_DEF,
        }
    }
    /// The RFC 7643 extensions of this resource type: EnterpriseUser for User.
    pub fn standard_extensions(self) -> &'static [&'static SchemaDef] {
        match self {
            ResourceKind::User => &[&ENTERPRISE_SCHEMA_DEF],
            ResourceKind::Group => &[],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
    /// Finds a top-level attribute of the core schema (including `id`, `externalId`),
    /// case-insensitively.
    pub fn core_attr(self, name: &str) -> Option<&'static AttrDef> {
        if name.eq_ignore_ascii_case("id") {
            return Some(&ID_ATTR);
        }
        if name.eq_ignore_ascii_case("externalId") {
            return Some(&EXTERNAL_ID_ATTR);
        }
        find_attr(self.core().attributes, name)
    }
}

pub fn find_attr(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}
