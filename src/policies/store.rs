//! Policy queries.

use diesel::prelude::*;

use super::model::{digest, Policy, INITIAL_SUMMARY, INITIAL_TEXT};
use crate::db::schema::policies;
use crate::db::DbConnection;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = policies)]
struct PolicyRow {
    version: i32,
    text: String,
    summary: String,
    sha256: String,
    published_at: chrono::NaiveDateTime,
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Self {
        Self {
            version: r.version,
            text: r.text,
            summary: r.summary,
            sha256: r.sha256,
            published_at: r.published_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = policies)]
struct NewPolicyRow<'a> {
    version: i32,
    text: &'a str,
    summary: &'a str,
    sha256: &'a str,
    published_at: chrono::NaiveDateTime,
}

/// The newest published version, or 0 before the first policy exists.
pub fn current_version(conn: &mut DbConnection) -> QueryResult<i32> {
    policies::table
        .select(diesel::dsl::max(policies::version))
        .first::<Option<i32>>(conn)
        .map(|v| v.unwrap_or(0))
}

pub fn current(conn: &mut DbConnection) -> QueryResult<Option<Policy>> {
    policies::table
        .order(policies::version.desc())
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()
        .map(|r| r.map(Policy::from))
}

pub fn get(conn: &mut DbConnection, version: i32) -> QueryResult<Option<Policy>> {
    policies::table
        .find(version)
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()
        .map(|r| r.map(Policy::from))
}

/// Up to `limit` versions older than `before`, newest first.
pub fn list(conn: &mut DbConnection, before: Option<i32>, limit: i64) -> QueryResult<Vec<Policy>> {
    let mut query = policies::table
        .order(policies::version.desc())
        .select(PolicyRow::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(policies::version.lt(before));
    }
    Ok(query.load(conn)?.into_iter().map(Policy::from).collect())
}

/// Publishes `text` as the next version, effective at `at`.
pub fn publish(
    conn: &mut DbConnection,
    text: &str,
    summary: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<Policy> {
    crate::db::write_transaction(conn, |conn| {
        let version = current_version(conn)? + 1;
        insert(conn, version, text, summary, at)
    })
}

fn insert(
    conn: &mut DbConnection,
    version: i32,
    text: &str,
    summary: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<Policy> {
    let sha256 = digest(text);
    diesel::insert_into(policies::table)
        .values(NewPolicyRow {
            version,
            text,
            summary,
            sha256: &sha256,
            published_at: at,
        })
        .execute(conn)?;
    Ok(Policy {
        version,
        text: text.to_owned(),
        summary: summary.to_owned(),
        sha256,
        published_at: at,
    })
}

/// Makes sure version 1 exists. Safe when several processes start at once: a lost race is a
/// unique violation, which means another process inserted the same row.
pub fn ensure_initial(conn: &mut DbConnection) -> QueryResult<()> {
    if get(conn, 1)?.is_some() {
        return Ok(());
    }
    // The first version is the one customers register under: no revision notice to send.
    let inserted =
        insert(conn, 1, INITIAL_TEXT, INITIAL_SUMMARY, crate::db::now()).and_then(|_| {
            diesel::update(policies::table.find(1))
                .set(policies::notices_done_at.eq(Some(crate::db::now())))
                .execute(conn)
        });
    match inserted {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Records that `subject_id` accepted `version` (registration, checkout, or explicitly).
pub fn record_acceptance(
    conn: &mut DbConnection,
    subject_id: &str,
    version: i32,
    source: &str,
) -> QueryResult<()> {
    use crate::db::schema::policy_acceptances;
    diesel::insert_into(policy_acceptances::table)
        .values((
            policy_acceptances::id.eq(crate::ids::new_id("pac")),
            policy_acceptances::subject_id.eq(subject_id),
            policy_acceptances::policy_version.eq(version),
            policy_acceptances::accepted_at.eq(crate::db::now()),
            policy_acceptances::source.eq(source),
        ))
        .execute(conn)?;
    Ok(())
}
