//! The tokenizer and recursive-descent parser behind [`parse_filter`](super::parse_filter)
//! and [`parse_patch_path`]: precedence `or` < `and` < `not`/atoms, every step counted
//! against the [`FilterLimits`].

use super::{
    clip, limits, valid_name, AttrPath, CompValue, CompareOp, Filter, FilterLimits, PatchPath,
};
use crate::scim::error::ScimError;

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
