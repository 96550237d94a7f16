//! Hand-written statements that stay prepared.
//!
//! diesel prepares a statement once per connection and reuses it, except for the kinds whose
//! SQL it cannot tell from their Rust type: every `UPDATE` (a changeset may skip `None`
//! fields), upserts, inserts with `DEFAULT`s, raw `sql_query`. Those it prepares again on
//! every execution: on PostgreSQL an extra round trip, a parse and a plan each time
//! (`bench/pg_floor.sh`: the checkout flow's statements all parsed every time complete half
//! the orders per second of prepared ones). A wrapper cannot lift that: diesel's
//! `MultiConnection` asks a *reference* to the query whether it may be cached, and a
//! reference answers by walking the inner statement, which marks itself unsafe.
//!
//! A [`Statement`] is fixed SQL text with typed binds, which diesel keys by that text and the
//! bind types, so it is prepared once per connection. Placeholders come from the binds
//! (`$n` on PostgreSQL, `?` on SQLite), so one text serves both backends. For the hot
//! writes only: diesel's typed DSL checks everything else at compile time, and the tests
//! exercise each of these on both backends.

use diesel::expression::{AsExpression, TypedExpressionType};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::SqlType;
use diesel::{QueryResult, RunQueryDsl};

use super::DbConnection;

type Backend = <DbConnection as diesel::Connection>::Backend;

enum Piece<'a> {
    Sql(&'static str),
    Bind(Box<dyn QueryFragment<Backend> + 'a>),
}

/// SQL text and binds, in order: `Statement::sql("UPDATE t SET a = ").bind::<Integer, _>(1)`.
pub struct Statement<'a> {
    pieces: Vec<Piece<'a>>,
}

impl<'a> Statement<'a> {
    pub fn sql(text: &'static str) -> Self {
        Self {
            pieces: vec![Piece::Sql(text)],
        }
    }

    /// More SQL text.
    pub fn then(mut self, text: &'static str) -> Self {
        self.pieces.push(Piece::Sql(text));
        self
    }

    /// A bind parameter of SQL type `ST`.
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        ST: SqlType + TypedExpressionType,
        T: AsExpression<ST>,
        T::Expression: QueryFragment<Backend> + 'a,
    {
        self.pieces
            .push(Piece::Bind(Box::new(value.as_expression())));
        self
    }
}

impl QueryFragment<Backend> for Statement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(text) => out.push_sql(text),
                Piece::Bind(bind) => bind.walk_ast(out.reborrow())?,
            }
        }
        Ok(())
    }
}

impl QueryId for Statement<'_> {
    type QueryId = ();
    // Keyed by its SQL text (and bind types), never by its Rust type, which all share.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<DbConnection> for Statement<'_> {}

/// Rows come back by column name (`RETURNING …` into a `QueryableByName` struct).
impl diesel::query_builder::Query for Statement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}
