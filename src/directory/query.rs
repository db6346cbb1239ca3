//! Directory queries as data: what a listing asks for (a condition tree, an order, a page),
//! built by the use cases (from a SCIM filter, or from the console's search form) and
//! translated to SQL by the store alone. Pure data: no SQL, no dialect, no I/O.

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    All,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Test(Target, Op, Val),
    /// Some element of a multi-valued attribute satisfies the inner condition, whose
    /// targets are [`Target::Elem`].
    Any(Collection, Box<Cond>),
    /// Users only (the console's people search): every word starts some word of the
    /// user's userName, displayName, name or emails. Words as `store::search` splits them.
    Words {
        org_id: String,
        words: Vec<String>,
        /// Set by the store, never by a caller (who passes `false`): the words match so
        /// many users that SQLite checks each user in the page's order against the matches
        /// instead of listing every matching user first (see `store::search::plan`).
        many: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Id,
    /// Users: `userName` (case-insensitive key column).
    UserName,
    ExternalId,
    /// `displayName` of a user or group (case-insensitive key column).
    DisplayName,
    Active,
    Created,
    Modified,
    /// Where the record came from (`console` or `scim:<client>`).
    Source,
    /// Any other attribute, by its path inside the canonical JSON body.
    Json {
        path: Vec<String>,
        case_exact: bool,
        boolean: bool,
    },
    /// A sub-attribute of the element in an enclosing [`Cond::Any`].
    Elem {
        sub: String,
        case_exact: bool,
        boolean: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Collection {
    /// `emails`, from the indexed `user_emails` table (sub-attributes value, type, primary).
    Emails,
    /// Group `members` (sub-attribute value).
    Members,
    /// A user's `groups` (sub-attribute value), from the membership table.
    UserGroups,
    /// Any other multi-valued attribute of the JSON body.
    Json(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
    Pr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Bool(bool),
    /// Unix milliseconds.
    Time(i64),
    Null,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Creation order (ids are time-ordered UUIDv7).
    #[default]
    Id,
    UserName,
    DisplayName,
    ExternalId,
    Created,
    Modified,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    pub cond: Cond,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
    /// Keyset paging (the console's "Older"/"Next"): only rows whose id sorts after this
    /// one. The total still counts every match of `cond`.
    pub after: Option<String>,
}

impl ListQuery {
    /// The number of matches, when a page of `got` rows already tells it: a page that is
    /// neither full nor past the end is the last one. Saves the COUNT of most lookups
    /// (`userName eq …` answers 0 or 1 rows) and of every last page.
    pub fn total_from_page(&self, got: usize) -> Option<i64> {
        let got = got as u64;
        (self.after.is_none() && got < self.limit && (got > 0 || self.offset == 0))
            .then(|| (self.offset + got) as i64)
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            cond: Cond::All,
            sort: SortKey::Id,
            descending: false,
            offset: 0,
            limit: 100,
            after: None,
        }
    }
}
