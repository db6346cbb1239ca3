//! A small dynamic-SQL builder. sqlx's `QueryBuilder<Any>` writes `?` placeholders, which
//! PostgreSQL rejects; this one writes `$1, $2, …`, which both PostgreSQL and sqlx's SQLite
//! driver accept. Values are only ever bound, never formatted into the SQL text.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, FromRow};

#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Str(String),
    Int(i64),
    /// A text NULL (PostgreSQL takes a bound NULL's type from the binding).
    Null,
    /// An integer NULL.
    NullInt,
}

impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(o: Option<T>) -> Arg {
        o.map_or(Arg::Null, Into::into)
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Str(s.clone())
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
    /// How many values are bound.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

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

    /// The bound values, `$1` first.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    /// `first` (fixed text without placeholders, may be empty) and `statements`, as one
    /// SQLite call, their values borrowed rather than copied: a create's call carries the
    /// user's body, the log's copy of the request and the change event's data, and copying
    /// them twice more (renumbered, then made positional) showed in profiles of creates.
    ///
    /// SQLite binds `?` in order across a call's statements, but `$n` by its absolute
    /// number, so the two cannot mix in one call: when every statement uses `$1, $2, …`
    /// once each, in order (as the builder writes them), all become `?`, which binds in
    /// O(n); otherwise all are renumbered to follow one another.
    pub fn join_for_sqlite<'a>(first: &str, statements: &[&'a Sql]) -> Joined<'a> {
        let len = first.len() + statements.iter().map(|s| s.sql.len() + 2).sum::<usize>();
        let mut out = Joined {
            sql: String::with_capacity(len),
            args: Vec::with_capacity(statements.iter().map(|s| s.args.len()).sum()),
        };
        out.sql.push_str(first);
        let positional = statements.iter().all(|s| s.is_sequential());
        for s in statements {
            if !out.sql.is_empty() {
                out.sql.push_str(";\n");
            }
            let base = out.args.len();
            let mut rest = s.sql.as_str();
            while let Some((i, digits)) = next_dollar(rest) {
                out.sql.push_str(&rest[..i]);
                match rest[i + 1..i + 1 + digits].parse::<usize>() {
                    Ok(_) if positional => out.sql.push('?'),
                    Ok(n) => {
                        use std::fmt::Write;
                        let _ = write!(out.sql, "${}", n + base);
                    }
                    // A `$` that is not a placeholder is left as it is.
                    Err(_) => out.sql.push_str(&rest[i..i + 1 + digits]),
                }
                rest = &rest[i + 1 + digits..];
            }
            out.sql.push_str(rest);
            out.args.extend(s.args.iter());
        }
        out
    }

    /// Whether the placeholders are `$1, $2, …`, each once, in order.
    fn is_sequential(&self) -> bool {
        let mut rest = self.sql.as_str();
        let mut expected = 1usize;
        while let Some((i, digits)) = next_dollar(rest) {
            if digits > 0 {
                if rest[i + 1..i + 1 + digits].parse::<usize>().ok() != Some(expected) {
                    return false;
                }
                expected += 1;
            }
            rest = &rest[i + 1 + digits..];
        }
        expected == self.args.len() + 1
    }

    /// Appends `other`'s text and values, its placeholders renumbered to follow ours.
    fn append_renumbered(&mut self, other: &Sql) -> &mut Self {
        let base = self.args.len();
        let mut rest = other.sql.as_str();
        while let Some((i, digits)) = next_dollar(rest) {
            self.sql.push_str(&rest[..i]);
            self.sql.push('$');
            if digits > 0 {
                let n: usize = rest[i + 1..i + 1 + digits].parse().unwrap_or(0);
                self.sql.push_str(&(n + base).to_string());
            }
            // A `$` that is not a placeholder (none is written today) is left as it is.
            rest = &rest[i + 1 + digits..];
        }
        self.sql.push_str(rest);
        self.args.extend(other.args.iter().cloned());
        self
    }

    /// Runs INSERT statements that do not read one another's rows (foreign keys between
    /// them are fine: PostgreSQL checks those at the end of the statement). On SQLite this is
    /// [`Sql::execute_all`], in order (SQLite's search-index statements rely on that: see
    /// `search::index`); on PostgreSQL they become one statement, `WITH s0 AS (INSERT …),
    /// s1 AS (INSERT …) INSERT …`: one round trip, one plan and one wake-up of the server
    /// instead of one per INSERT (the log's three INSERTs were a third of a write's round
    /// trips). Statements that read each other's writes, or UPDATE and DELETE the same
    /// rows, must not go through here: the parts of such a statement run in no set order.
    pub async fn insert_all(
        conn: &mut sqlx::AnyConnection,
        statements: &[&Sql],
    ) -> sqlx::Result<()> {
        if super::Backend::of(conn) == super::Backend::Sqlite {
            return Self::execute_all(conn, statements).await;
        }
        for combined in Self::ctes(statements) {
            combined.query().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// One PostgreSQL statement: each of `ctes` as `WITH name AS (…)`, in order, then `main`.
    /// Data-modifying CTEs run exactly once whether or not anything reads them.
    pub fn with_ctes(ctes: &[(&str, &Sql)], main: &Sql) -> Sql {
        let mut out = Sql::default();
        for (i, (name, s)) in ctes.iter().enumerate() {
            out.push(if i == 0 { "WITH " } else { ", " });
            out.push(format!("{name} AS ("));
            out.append_renumbered(s);
            out.push(")");
        }
        if !ctes.is_empty() {
            out.push(" ");
        }
        out.append_renumbered(main);
        out
    }

    /// Joins `statements` into data-modifying CTEs, each result under PostgreSQL's limit of
    /// 65,535 parameters per statement (with room to spare).
    fn ctes(statements: &[&Sql]) -> Vec<Sql> {
        const MAX_ARGS: usize = 30_000;
        let mut out = Vec::new();
        let mut group: Vec<&Sql> = Vec::new();
        let mut args = 0;
        for s in statements.iter().copied() {
            if !group.is_empty() && args + s.args.len() > MAX_ARGS {
                out.push(Self::cte(&group));
                group.clear();
                args = 0;
            }
            args += s.args.len();
            group.push(s);
        }
        if !group.is_empty() {
            out.push(Self::cte(&group));
        }
        out
    }

    fn cte(group: &[&Sql]) -> Sql {
        let Some((last, first)) = group.split_last() else {
            return Sql::default();
        };
        let names: Vec<String> = (0..first.len()).map(|i| format!("s{i}")).collect();
        let ctes: Vec<(&str, &Sql)> = names
            .iter()
            .map(String::as_str)
            .zip(first.iter().copied())
            .collect();
        Self::with_ctes(&ctes, last)
    }

    /// Runs `statements` in order: on SQLite in one call (each call is a round trip to its
    /// worker thread), elsewhere one by one (PostgreSQL prepares one statement at a time).
    pub async fn execute_all(
        conn: &mut sqlx::AnyConnection,
        statements: &[&Sql],
    ) -> sqlx::Result<()> {
        if super::Backend::of(conn) == super::Backend::Sqlite {
            let all = Sql::join_for_sqlite("", statements);
            if !all.sql.is_empty() {
                all.query().execute(&mut *conn).await?;
            }
        } else {
            for s in statements {
                s.query().execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query::<Any>(&self.sql);
        for a in &self.args {
            q = bind_arg(q, a);
        }
        q
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
                Arg::Null => q.bind(None::<String>),
                Arg::NullInt => q.bind(None::<i64>),
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
                Arg::Null => q.bind(None::<String>),
                Arg::NullInt => q.bind(None::<i64>),
            };
        }
        q
    }
}

/// Statements joined for one SQLite call, their values borrowed (see
/// [`Sql::join_for_sqlite`]).
#[derive(Debug)]
pub struct Joined<'a> {
    sql: String,
    args: Vec<&'a Arg>,
}

impl Joined<'_> {
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query::<Any>(&self.sql);
        for a in &self.args {
            q = bind_arg(q, a);
        }
        q
    }
}

/// The next `$` in `rest` and how many digits follow it (0: not a placeholder).
fn next_dollar(rest: &str) -> Option<(usize, usize)> {
    let i = rest.find('$')?;
    let digits = rest[i + 1..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len() - i - 1);
    Some((i, digits))
}

fn bind_arg<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    a: &'q Arg,
) -> Query<'q, Any, AnyArguments<'q>> {
    match a {
        Arg::Str(s) => q.bind(s.as_str()),
        Arg::Int(i) => q.bind(*i),
        Arg::Null => q.bind(None::<String>),
        Arg::NullInt => q.bind(None::<i64>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_renumber_their_placeholders_and_leave_other_dollars() {
        let mut a = Sql::new("INSERT INTO t VALUES (");
        a.push_bind("x").push(") RETURNING n");
        let mut b = Sql::new("SELECT '$.path', n FROM a WHERE k = ");
        b.push_bind(7i64);
        let one = Sql::with_ctes(&[("a", &a)], &b);
        assert_eq!(
            one.sql(),
            "WITH a AS (INSERT INTO t VALUES ($1) RETURNING n) SELECT '$.path', n FROM a WHERE k = $2"
        );
        assert_eq!(one.arg_count(), 2);
    }

    #[test]
    fn numbered_placeholders() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.push_bind("x")
            .push(" AND b IN (")
            .push_list(&[1i64, 2])
            .push(")");
        assert_eq!(s.sql(), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn inserts_join_as_ctes_under_the_parameter_limit() {
        let mut a = Sql::new("INSERT INTO p VALUES (");
        a.push_bind("x").push(")");
        let mut b = Sql::new("INSERT INTO c VALUES (");
        b.push_bind("x").push(", ").push_bind(1i64).push(")");
        let joined = Sql::ctes(&[&a, &b, &b]);
        assert_eq!(joined.len(), 1);
        assert_eq!(
            joined[0].sql(),
            "WITH s0 AS (INSERT INTO p VALUES ($1)), s1 AS (INSERT INTO c VALUES ($2, $3)) \
             INSERT INTO c VALUES ($4, $5)"
        );
        assert_eq!(joined[0].args.len(), 5);
        assert_eq!(Sql::ctes(&[&a])[0].sql(), "INSERT INTO p VALUES ($1)");

        let mut big = Sql::new("INSERT INTO c VALUES ");
        big.push_list(&vec![1i64; 20_000]);
        let split = Sql::ctes(&[&a, &big, &big, &a]);
        assert_eq!(split.len(), 2, "40,002 parameters need two statements");
        assert_eq!(split[0].args.len(), 20_001);
        assert_eq!(split[1].args.len(), 20_001);
        assert!(split[1].sql().ends_with("INSERT INTO p VALUES ($20001)"));
    }

    #[test]
    fn statements_joined_for_sqlite_bind_in_order() {
        let mut a = Sql::new("INSERT INTO t VALUES (");
        a.push_bind("x").push(", ").push_bind(Some(2i64)).push(")");
        let mut b = Sql::new("UPDATE u SET a = ");
        b.push_bind(None::<String>)
            .push(" WHERE b = ")
            .push_bind(3i64)
            .push(" AND p = '$.path'");
        let all = Sql::join_for_sqlite("SAVEPOINT request", &[&a, &b]);
        assert_eq!(
            all.sql(),
            "SAVEPOINT request;\nINSERT INTO t VALUES (?, ?);\nUPDATE u SET a = ? WHERE b = ? AND p = '$.path'"
        );
        assert_eq!(all.args.len(), 4);
        assert_eq!(*all.args[2], Arg::Null);
        assert!(std::ptr::eq(all.args[0], &a.args[0]), "values are borrowed");

        // A value used twice keeps its number, and then every statement's are numbered:
        // SQLite binds `?` by position in the call but `$n` by its absolute number.
        let mut reused = Sql::new("SELECT ");
        reused.push_bind(1i64).push(", $1");
        let all = Sql::join_for_sqlite("", &[&a, &reused]);
        assert_eq!(all.sql(), "INSERT INTO t VALUES ($1, $2);\nSELECT $3, $3");
        assert_eq!(Sql::join_for_sqlite("", &[]).sql(), "");
    }
}
