//! The RFC 7644 §3.4.2.2 filter grammar and the §3.5.2 PATCH path grammar: tokenizer,
//! recursive-descent parser (precedence `or` < `and` < `not`/atoms) and a printer whose
//! output parses back to the same tree. Pure: no schema lookups and no SQL here.

mod parser;
#[cfg(test)]
mod tests;

pub use parser::{parse_filter_with, parse_patch_path};

use super::error::ScimError;
use std::fmt;

/// Bounds on one filter or PATCH path. Hostile input is normal input: a 75 KB chain of
/// 5,000 `or` terms once overflowed the stack in the code that walks the parsed tree, and a
/// long `co` operand became a "LIKE pattern too complex" database error. Every parsed tree
/// is at most `max_terms + max_depth` levels deep, so the recursive walks over it (filter →
/// SQL, paging keys, member filters, in-memory matching) are bounded too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest filter or path, in bytes.
    pub max_len: usize,
    /// Most attribute expressions (`userName eq "x"`, `title pr`, `emails[...]`) in one filter;
    /// this also bounds `and`/`or` chains, which parse into trees as deep as they are long.
    pub max_terms: usize,
    /// Deepest nesting of parentheses, `not (...)` and `[...]`.
    pub max_depth: usize,
    /// Longest string literal, in bytes.
    pub max_string: usize,
}

impl FilterLimits {
    /// Ceilings the configuration cannot exceed: beyond them the recursive walks and
    /// SQLite's expression-depth and LIKE-pattern limits would be at risk again.
    pub const CEILING: FilterLimits = FilterLimits {
        max_len: 65_536,
        max_terms: 256,
        max_depth: 64,
        max_string: 16_384,
    };

    /// Each bound, capped at [`FilterLimits::CEILING`] and at least 1.
    pub fn clamped(self) -> FilterLimits {
        let c = FilterLimits::CEILING;
        FilterLimits {
            max_len: self.max_len.clamp(1, c.max_len),
            max_terms: self.max_terms.clamp(1, c.max_terms),
            max_depth: self.max_depth.clamp(1, c.max_depth),
            max_string: self.max_string.clamp(1, c.max_string),
        }
    }
}

impl Default for FilterLimits {
    /// Identity providers send one or two terms; batch lookups by id stay well inside 100.
    fn default() -> Self {
        FilterLimits {
            max_len: 16_384,
            max_terms: 100,
            max_depth: 16,
            max_string: 4_096,
        }
    }
}

static LIMITS: std::sync::OnceLock<FilterLimits> = std::sync::OnceLock::new();

/// Sets the process-wide limits once, at start-up (later calls are ignored). They are
/// configuration, not input, so they are not threaded through every PATCH-path parse.
pub fn set_limits(limits: FilterLimits) {
    let _ = LIMITS.set(limits.clamped());
}

/// The limits in force: those set at start-up, or the defaults.
pub fn limits() -> FilterLimits {
    LIMITS.get().copied().unwrap_or_default()
}

/// `[urn ":"] name ["." sub]`, as written by the client (case preserved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn parse(word: &str) -> Result<AttrPath, ScimError> {
        let bad =
            || ScimError::invalid_filter(format!("'{}' is not a valid attribute path", clip(word)));
        let (urn, rest) = if word.len() > 4
            && word
                .get(..4)
                .is_some_and(|w| w.eq_ignore_ascii_case("urn:"))
        {
            let idx = word.rfind(':').ok_or_else(bad)?;
            (Some(word[..idx].to_string()), &word[idx + 1..])
        } else {
            (None, word)
        };
        let mut parts = rest.split('.');
        let name = parts
            .next()
            .filter(|n| valid_name(n))
            .ok_or_else(bad)?
            .to_string();
        let sub = match parts.next() {
            Some(s) if valid_name(s) => Some(s.to_string()),
            Some(_) => return Err(bad()),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(AttrPath { urn, name, sub })
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr[filter]`: the inner filter's paths are relative to the elements of `attr`.
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Filter::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
            Filter::Not(a) => write!(f, "not ({a})"),
        }
    }
}

/// Parses a complete filter expression.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    parse_filter_with(input, &limits())
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath`, or `attrPath[valFilter]` with an optional
/// `.subAttr` after the bracket.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// Sub-attribute after a value filter (`emails[type eq "work"].value`).
    pub filter_sub: Option<String>,
}

/// At most 100 characters of client input, for error messages: an error echoing a 64 KB
/// path would be stored in the provisioning log for every such request.
pub fn clip(input: &str) -> String {
    match input.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_string(),
    }
}
