//! The RFC 7644 §3.4.2.2 filter grammar and the §3.5.2 PATCH path grammar: tokenizer,
//! recursive-descent parser (precedence `or` < `and` < `not`/atoms) and a printer whose
//! output parses back to the same tree. Pure: no schema lookups and no SQL here.

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

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

fn tokenize(input: &str, limits: &FilterLimits) -> Result<Vec<Token>, ScimError> {
    if input.len() > limits.max_len {
        return Err(ScimError::invalid_filter(format!(
            "Filter is longer than {} bytes",
            limits.max_len
        )));
    }
    let mut tokens = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                tokens.push(Token::LParen);
                i += 1
            }
            b')' => {
                tokens.push(Token::RParen);
                i += 1
            }
            b'[' => {
                tokens.push(Token::LBracket);
                i += 1
            }
            b']' => {
                tokens.push(Token::RBracket);
                i += 1
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(ScimError::invalid_filter("Unterminated string in filter"))
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let raw = &input[start..i];
                if raw.len() > limits.max_string + 2 {
                    return Err(ScimError::invalid_filter(format!(
                        "A string in the filter is longer than {} bytes",
                        limits.max_string
                    )));
                }
                let s: String = serde_json::from_str(raw).map_err(|_| {
                    ScimError::invalid_filter(format!("Invalid string literal {}", clip(raw)))
                })?;
                // A NUL ends a C string: in SQLite's LIKE, `co "\u0000"` matched everything.
                if s.contains('\0') {
                    return Err(ScimError::invalid_filter(
                        "Strings in a filter cannot contain the NUL character",
                    ));
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"'
                    )
                {
                    i += 1;
                }
                tokens.push(Token::Word(input[start..i].to_string()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    terms: usize,
    limits: FilterLimits,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ScimError::invalid_filter(format!(
                "Filter is nested more than {} levels deep",
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    fn count_term(&mut self) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(ScimError::invalid_filter(format!(
                "Filter has more than {} terms",
                self.limits.max_terms
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter, ScimError> {
        self.enter()?;
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.peek_keyword("not") && matches!(self.tokens.get(self.pos + 1), Some(Token::LParen))
        {
            self.pos += 2;
            let inner = self.or_expr()?;
            self.expect(Token::RParen, "')'")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or_expr()?;
                self.expect(Token::RParen, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(w)) => self.attr_expr(&w),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "Unexpected {} in filter",
                describe(&t)
            ))),
            None => Err(ScimError::invalid_filter(
                "Filter ends where an expression was expected",
            )),
        }
    }

    fn attr_expr(&mut self, word: &str) -> Result<Filter, ScimError> {
        self.count_term()?;
        let path = AttrPath::parse(word)?;
        if matches!(self.peek(), Some(Token::LBracket)) {
            self.pos += 1;
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'{word}[' is not a valid value path"
                )));
            }
            let inner = self.or_expr()?;
            self.expect(Token::RBracket, "']'")?;
            // `emails[type eq "work"].value eq "x"`: some element matches both, the same as
            // `emails[type eq "work" and value eq "x"]`.
            if let Some(Token::Word(w)) = self.peek().cloned() {
                if let Some(sub) = w.strip_prefix('.') {
                    self.pos += 1;
                    if !valid_name(sub) {
                        return Err(ScimError::invalid_filter(format!(
                            "'{word}[…]{w}' is not a valid value path"
                        )));
                    }
                    let test = self.attr_expr(sub)?;
                    if matches!(test, Filter::ValuePath(..)) {
                        return Err(ScimError::invalid_filter("Value filters cannot be nested"));
                    }
                    let both = Filter::And(Box::new(inner), Box::new(test));
                    return Ok(Filter::ValuePath(path, Box::new(both)));
                }
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let op_word = match self.next() {
            Some(Token::Word(w)) => w,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "Expected an operator after '{word}'"
                )))
            }
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op_word)
            .ok_or_else(|| ScimError::invalid_filter(format!("Unknown operator '{op_word}'")))?;
        let value = match self.next() {
            Some(Token::Str(s)) => CompValue::Str(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => CompValue::Bool(true),
                "false" => CompValue::Bool(false),
                "null" => CompValue::Null,
                _ => CompValue::Num(w.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(
                    || {
                        ScimError::invalid_filter(format!(
                            "'{w}' is not a valid value: strings must be in double quotes"
                        ))
                    },
                )?),
            },
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "Expected a value after '{word} {op_word}'"
                )))
            }
        };
        Ok(Filter::Compare(path, op, value))
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "Expected {what} but found {}",
                describe(&t)
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "Expected {what} at the end of the filter"
            ))),
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::LBracket => "'['".into(),
        Token::RBracket => "']'".into(),
        Token::Str(s) => format!("string \"{}\"", clip(s)),
        Token::Word(w) => format!("'{}'", clip(w)),
    }
}

/// Parses a complete filter expression.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    parse_filter_with(input, &limits())
}

/// [`parse_filter`] under explicit limits.
pub fn parse_filter_with(input: &str, limits: &FilterLimits) -> Result<Filter, ScimError> {
    let mut p = Parser {
        tokens: tokenize(input, limits)?,
        pos: 0,
        depth: 0,
        terms: 0,
        limits: *limits,
    };
    if p.tokens.is_empty() {
        return Err(ScimError::invalid_filter("Filter is empty"));
    }
    let f = p.or_expr()?;
    if let Some(t) = p.peek() {
        return Err(ScimError::invalid_filter(format!(
            "Unexpected {} in filter",
            describe(t)
        )));
    }
    Ok(f)
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

pub fn parse_patch_path(input: &str) -> Result<PatchPath, ScimError> {
    let shown = clip(input);
    let to_path_err =
        |e: ScimError| ScimError::invalid_path(format!("Invalid path '{shown}': {}", e.detail));
    let limits = limits();
    let tokens = tokenize(input, &limits).map_err(to_path_err)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        terms: 0,
        limits,
    };
    let word = match p.next() {
        Some(Token::Word(w)) => w,
        _ => return Err(ScimError::invalid_path(format!("Invalid path '{shown}'"))),
    };
    let attr = AttrPath::parse(&word).map_err(to_path_err)?;
    let mut filter = None;
    let mut filter_sub = None;
    if matches!(p.peek(), Some(Token::LBracket)) {
        p.pos += 1;
        filter = Some(p.or_expr().map_err(to_path_err)?);
        p.expect(Token::RBracket, "']'").map_err(to_path_err)?;
        if let Some(Token::Word(w)) = p.peek().cloned() {
            match w.strip_prefix('.') {
                Some(sub) if valid_name(sub) => {
                    filter_sub = Some(sub.to_string());
                    p.pos += 1;
                }
                _ => return Err(ScimError::invalid_path(format!("Invalid path '{shown}'"))),
            }
        }
    }
    if p.peek().is_some() {
        return Err(ScimError::invalid_path(format!("Invalid path '{shown}'")));
    }
    Ok(PatchPath {
        attr,
        filter,
        filter_sub,
    })
}

/// At most 100 characters of client input, for error messages: an error echoing a 64 KB
/// path would be stored in the provisioning log for every such request.
pub fn clip(input: &str) -> String {
    match input.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Filter {
        parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn path(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }
    fn eq(a: &str, v: &str) -> Filter {
        Filter::Compare(path(a), CompareOp::Eq, CompValue::Str(v.into()))
    }

    #[test]
    fn simple_and_case_insensitive_operators() {
        assert_eq!(p(r#"userName eq "bjensen""#), eq("userName", "bjensen"));
        assert_eq!(p(r#"userName EQ "bjensen""#), eq("userName", "bjensen"));
        assert_eq!(p("title pr"), Filter::Present(path("title")));
        assert_eq!(p("title PR"), Filter::Present(path("title")));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = p(r#"a eq "1" or b eq "2" and c eq "3""#);
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq("a", "1")),
                Box::new(Filter::And(Box::new(eq("b", "2")), Box::new(eq("c", "3"))))
            )
        );
        let g = p(r#"(a eq "1" or b eq "2") and c eq "3""#);
        assert!(matches!(g, Filter::And(_, _)));
    }

    #[test]
    fn values_with_spaces_brackets_and_escapes() {
        assert_eq!(
            p(r#"displayName eq "Sales (EMEA) [x] and or""#),
            eq("displayName", "Sales (EMEA) [x] and or")
        );
        assert_eq!(
            p(r#"displayName eq "say \"hi\"""#),
            eq("displayName", "say \"hi\"")
        );
        assert_eq!(
            p(r#"displayName eq "back\\slash""#),
            eq("displayName", "back\\slash")
        );
    }

    #[test]
    fn complex_value_filter_and_urn_paths() {
        let f = p(r#"emails[type eq "work" and value co "@example.com"]"#);
        match f {
            Filter::ValuePath(a, inner) => {
                assert_eq!(a.name, "emails");
                assert!(matches!(*inner, Filter::And(_, _)));
            }
            other => panic!("{other:?}"),
        }
        let f =
            p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#);
        match f {
            Filter::Compare(a, _, _) => {
                assert_eq!(
                    a.urn.as_deref(),
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                );
                assert_eq!(a.name, "manager");
                assert_eq!(a.sub.as_deref(), Some("value"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn value_path_followed_by_a_sub_attribute_test() {
        let f = p(r#"emails[type eq "work"].value eq "a@x.com""#);
        assert_eq!(
            f,
            Filter::ValuePath(
                path("emails"),
                Box::new(Filter::And(
                    Box::new(eq("type", "work")),
                    Box::new(eq("value", "a@x.com"))
                ))
            )
        );
        // The same as the bracketed form, so it prints and parses back to itself.
        assert_eq!(p(&f.to_string()), f);
        assert_eq!(
            p(r#"emails[type eq "work" and value eq "a@x.com"]"#),
            f,
            "one meaning, two spellings"
        );
        let f = p(r#"emails[type eq "work"].value pr and userName eq "u""#);
        match f {
            Filter::And(a, b) => {
                assert_eq!(
                    *a,
                    Filter::ValuePath(
                        path("emails"),
                        Box::new(Filter::And(
                            Box::new(eq("type", "work")),
                            Box::new(Filter::Present(path("value")))
                        ))
                    )
                );
                assert_eq!(*b, eq("userName", "u"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"].value eq"#,
            r#"emails[type eq "work"].1x eq "a""#,
            r#"emails[type eq "work"].value.sub eq "a""#,
            r#"emails[type eq "work"].value[primary eq true]"#,
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(super::super::error::ScimType::InvalidFilter),
                "{bad}"
            );
        }
    }

    #[test]
    fn not_numbers_booleans_null() {
        assert!(matches!(p(r#"not (userName eq "x")"#), Filter::Not(_)));
        assert!(matches!(p(r#"not(userName eq "x")"#), Filter::Not(_)));
        assert_eq!(
            p("active eq true"),
            Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(true))
        );
        assert_eq!(
            p("active eq False"),
            Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(false))
        );
        assert_eq!(
            p("x gt 10.5"),
            Filter::Compare(path("x"), CompareOp::Gt, CompValue::Num(10.5))
        );
        assert_eq!(
            p("x eq null"),
            Filter::Compare(path("x"), CompareOp::Eq, CompValue::Null)
        );
    }

    #[test]
    fn invalid_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName zz \"x\"",
            "userName eq bjensen",
            "(userName eq \"x\"",
            "userName eq \"x\")",
            "userName eq \"x",
            "emails[type eq \"work\"",
            "a eq \"1\" and",
            "a eq \"1\" xor b eq \"2\"",
            "1abc eq \"x\"",
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert_eq!(
                e.scim_type,
                Some(super::super::error::ScimType::InvalidFilter),
                "{bad}"
            );
        }
        let deep = format!("{}a pr{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_filter(&deep).is_err());
    }

    #[test]
    fn long_chains_long_strings_and_deep_nesting_are_bounded() {
        use crate::scim::ScimType;
        let chain = |n: usize, op: &str| vec!["userName pr"; n].join(&format!(" {op} "));
        // The attack that overflowed the stack: 5,000 terms in one `or` chain (~75 KB).
        for op in ["or", "and"] {
            let e = parse_filter(&chain(5000, op)).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{op}");
            assert!(e.detail.contains("longer than"), "{}", e.detail);
            let e = parse_filter(&chain(101, op)).unwrap_err();
            assert!(e.detail.contains("more than 100 terms"), "{}", e.detail);
            assert!(parse_filter(&chain(100, op)).is_ok());
        }
        let vp = format!("emails[{}]", chain(100, "or").replace("userName", "value"));
        assert!(
            parse_filter(&vp).is_err(),
            "the value path itself is a term"
        );
        let long = format!("displayName co \"{}\"", "%_".repeat(3000));
        assert!(parse_filter(&long).unwrap_err().detail.contains("string"));
        let nots = format!("{}a pr{}", "not (".repeat(17), ")".repeat(17));
        assert!(parse_filter(&nots)
            .unwrap_err()
            .detail
            .contains("levels deep"));
        let nots = format!("{}a pr{}", "not (".repeat(15), ")".repeat(15));
        assert!(parse_filter(&nots).is_ok());
        assert!(parse_filter(r#"userName co "\u0000""#).is_err());
        // PATCH paths share the bounds and answer invalidPath.
        let path = format!(
            "members[{}]",
            chain(5000, "or").replace("userName pr", "value eq \"x\"")
        );
        let e = parse_patch_path(&path).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        // Configured limits apply, and cannot exceed the ceiling.
        let tight = FilterLimits {
            max_terms: 2,
            ..FilterLimits::default()
        };
        assert!(parse_filter_with(&chain(3, "or"), &tight).is_err());
        assert!(parse_filter_with(&chain(2, "or"), &tight).is_ok());
        let huge = FilterLimits {
            max_terms: 1_000_000,
            max_len: usize::MAX,
            max_depth: 0,
            max_string: 0,
        }
        .clamped();
        assert_eq!(huge.max_terms, FilterLimits::CEILING.max_terms);
        assert_eq!(huge.max_len, FilterLimits::CEILING.max_len);
        assert_eq!((huge.max_depth, huge.max_string), (1, 1));
        let at_ceiling = FilterLimits {
            max_len: 65_536,
            ..FilterLimits::CEILING
        };
        assert!(parse_filter_with(&chain(256, "or"), &at_ceiling).is_ok());
    }

    #[test]
    fn patch_paths() {
        let pp = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(pp.attr.name, "emails");
        assert!(pp.filter.is_some());
        assert_eq!(pp.filter_sub.as_deref(), Some("value"));
        let pp = parse_patch_path("name.givenName").unwrap();
        assert_eq!(pp.attr.sub.as_deref(), Some("givenName"));
        let pp = parse_patch_path(r#"members[value eq "a" or value eq "b"]"#).unwrap();
        assert!(matches!(pp.filter, Some(Filter::Or(_, _))));
        let pp =
            parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap();
        assert_eq!(pp.attr.name, "manager");
        assert!(parse_patch_path("emails[type eq").is_err());
        assert!(parse_patch_path("a b").is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn arb_path() -> impl Strategy<Value = AttrPath> {
            (
                prop::option::of(Just(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string(),
                )),
                "[a-zA-Z][a-zA-Z0-9]{0,8}",
                prop::option::of("[a-zA-Z][a-zA-Z0-9]{0,6}"),
            )
                .prop_filter("keywords are not names here", |(_, n, _)| {
                    !["and", "or", "not", "pr"].contains(&n.to_ascii_lowercase().as_str())
                })
                .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
        }

        fn arb_value() -> impl Strategy<Value = CompValue> {
            prop_oneof![
                any::<String>().prop_map(CompValue::Str),
                any::<bool>().prop_map(CompValue::Bool),
                (-1.0e6f64..1.0e6).prop_map(CompValue::Num),
                Just(CompValue::Null),
            ]
        }

        fn arb_op() -> impl Strategy<Value = CompareOp> {
            prop_oneof![
                Just(CompareOp::Eq),
                Just(CompareOp::Ne),
                Just(CompareOp::Co),
                Just(CompareOp::Sw),
                Just(CompareOp::Ew),
                Just(CompareOp::Gt),
                Just(CompareOp::Ge),
                Just(CompareOp::Lt),
                Just(CompareOp::Le),
            ]
        }

        fn arb_filter() -> impl Strategy<Value = Filter> {
            let leaf = prop_oneof![
                arb_path().prop_map(Filter::Present),
                (arb_path(), arb_op(), arb_value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
            ];
            leaf.prop_recursive(4, 32, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
                    (
                        arb_path().prop_map(|mut p| {
                            p.sub = None;
                            p
                        }),
                        inner
                    )
                        .prop_map(|(p, f)| Filter::ValuePath(p, Box::new(f))),
                ]
            })
        }

        proptest! {
            #[test]
            fn print_then_parse_is_identity(f in arb_filter()) {
                let printed = f.to_string();
                let parsed = parse_filter(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
                prop_assert_eq!(parsed, f);
            }

            #[test]
            fn arbitrary_input_never_panics(s in any::<String>()) {
                let _ = parse_filter(&s);
                let _ = parse_patch_path(&s);
            }

            /// Token soup built from the grammar's own words, long and deep: never a
            /// panic, and an error is always an invalidFilter / invalidPath.
            #[test]
            fn hostile_token_soup_is_refused_cleanly(words in proptest::collection::vec(
                prop_oneof![
                    Just("userName"), Just("pr"), Just("eq"), Just("\"x\""), Just("and"),
                    Just("or"), Just("not"), Just("("), Just(")"), Just("["), Just("]"),
                    Just("emails"), Just(".value"), Just("co"), Just("\"%_\\\\\""),
                ], 0..3000)) {
                let s = words.join(" ");
                if let Err(e) = parse_filter(&s) {
                    prop_assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidFilter));
                }
                if let Err(e) = parse_patch_path(&s) {
                    prop_assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidPath));
                }
            }
        }
    }
}
