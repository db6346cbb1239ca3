//! A small dynamic-SQL builder. sqlx's `QueryBuilder<Any>` writes `?` placeholders, which
//! PostgreSQL rejects; this one writes `$1, $2, …`, which both PostgreSQL and sqlx's SQLite
//! driver accept. Values are only ever bound, never formatted into the SQL text.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{QueryAs, QueryScalar};
use sqlx::{Any, FromRow};

#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Str(String),
    Int(i64),
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_string())
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Sql {
    sql: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(sql: impl Into<String>) -> Sql {
        Sql {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: impl AsRef<str>) -> &mut Self {
        self.sql.push_str(sql.as_ref());
        self
    }

    pub fn push_bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// `$a, $b, …` for each item.
    pub fn push_list<T: Into<Arg> + Clone>(&mut self, items: &[T]) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(item.clone());
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn query_as<'q, T>(&'q self) -> QueryAs<'q, Any, T, AnyArguments<'q>>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let mut q = sqlx::query_as::<Any, T>(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }

    pub fn query_scalar<'q, T>(&'q self) -> QueryScalar<'q, Any, T, AnyArguments<'q>>
    where
        (T,): for<'r> FromRow<'r, AnyRow>,
    {
        let mut q = sqlx::query_scalar::<Any, T>(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_placeholders() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.push_bind("x")
            .push(" AND b IN (")
            .push_list(&[1i64, 2])
            .push(")");
        assert_eq!(s.sql(), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }
}
