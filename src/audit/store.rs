//! Appending to and reading the audit log.

use diesel::prelude::*;

use super::chain::{self, chain_time, Canonical, VerifyReport};
use super::{Actor, Event};
use crate::crypto::Crypto;
use crate::db::schema::{audit_head, audit_log};
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct EntryRow {
    pub seq: i64,
    pub at: chrono::NaiveDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub subject_id: Option<String>,
    pub fields: String,
    pub purpose: String,
    pub request_id: Option<String>,
    pub mac: Vec<u8>,
}

impl EntryRow {
    /// The chained content of this row; `at` is its [`chain_time`].
    fn canonical<'a>(&'a self, at: &'a str) -> Canonical<'a> {
        Canonical {
            seq: self.seq,
            at,
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            actor_role: self.actor_role.as_deref(),
            action: &self.action,
            subject_id: self.subject_id.as_deref(),
            fields: &self.fields,
            purpose: &self.purpose,
            request_id: self.request_id.as_deref(),
        }
    }
}

/// Appends one entry, in the caller's transaction. Appends serialize on the chain head row
/// (a write lock on both backends), so concurrent requests never fork the chain.
pub fn record(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    event: &Event<'_>,
) -> QueryResult<i64> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq + 1))
            .execute(conn)?;
        let (seq, prev_mac): (i64, Vec<u8>) = audit_head::table
            .find(1)
            .select((audit_head::seq, audit_head::mac))
            .first(conn)?;
        let at = crate::db::now();
        let fields = event.fields.join(",");
        let actor_role = actor.role.map(|r| r.as_str());
        let at_text = chain_time(at);
        let canonical = Canonical {
            seq,
            at: &at_text,
            actor_kind: actor.kind.as_str(),
            actor_id: actor.id.as_deref(),
            actor_role,
            action: event.action.as_str(),
            subject_id: event.subject_id,
            fields: &fields,
            purpose: event.purpose.as_str(),
            request_id: actor.request_id.as_deref(),
        };
        let mac = chain::mac(crypto.audit_key(), &prev_mac, &canonical);
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::seq.eq(seq),
                audit_log::at.eq(at),
                audit_log::actor_kind.eq(actor.kind.as_str()),
                audit_log::actor_id.eq(actor.id.as_deref()),
                audit_log::actor_role.eq(actor_role),
                audit_log::action.eq(event.action.as_str()),
                audit_log::subject_id.eq(event.subject_id),
                audit_log::fields.eq(&fields),
                audit_log::purpose.eq(event.purpose.as_str()),
                audit_log::request_id.eq(actor.request_id.as_deref()),
                audit_log::mac.eq(&mac),
            ))
            .execute(conn)?;
        diesel::update(audit_head::table.find(1))
            .set(audit_head::mac.eq(&mac))
            .execute(conn)?;
        Ok(seq)
    })
}

/// The chain head: `(seq, mac)` of the newest entry.
pub fn head(conn: &mut DbConnection) -> QueryResult<(i64, Vec<u8>)> {
    audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::mac))
        .first(conn)
}

/// Recomputes the whole chain, in batches, and reports the first entry that breaks it.
pub fn verify(conn: &mut DbConnection, crypto: &Crypto) -> QueryResult<VerifyReport> {
    const BATCH: i64 = 1000;
    let (head_seq, head_mac) = head(conn)?;
    let mut prev_mac: Vec<u8> = Vec::new();
    let mut expected = 1i64;
    let mut checked = 0i64;
    let broken = |seq: i64, checked: i64, problem: String| VerifyReport {
        intact: false,
        checked,
        head_seq,
        first_broken_seq: Some(seq),
        problem: Some(problem),
    };
    loop {
        let rows: Vec<EntryRow> = audit_log::table
            .filter(audit_log::seq.ge(expected))
            .order(audit_log::seq.asc())
            .limit(BATCH)
            .select(EntryRow::as_select())
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if row.seq != expected {
                return Ok(broken(
                    expected,
                    checked,
                    format!(
                        "entry {expected} is missing (the next entry is {})",
                        row.seq
                    ),
                ));
            }
            let at = chain_time(row.at);
            if !chain::verify_mac(crypto.audit_key(), &prev_mac, &row.canonical(&at), &row.mac) {
                return Ok(broken(
                    row.seq,
                    checked,
                    format!("entry {} was edited, replaced or moved", row.seq),
                ));
            }
            prev_mac = row.mac.clone();
            expected += 1;
            checked += 1;
        }
    }
    let last = expected - 1;
    if last != head_seq || (last > 0 && prev_mac != head_mac) {
        return Ok(broken(
            last + 1,
            checked,
            format!("the log ends at entry {last} but the chain head records entry {head_seq}"),
        ));
    }
    Ok(VerifyReport {
        intact: true,
        checked,
        head_seq,
        first_broken_seq: None,
        problem: None,
    })
}

/// Filters for listing entries, newest first.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub subject_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<chrono::NaiveDateTime>,
    pub to: Option<chrono::NaiveDateTime>,
    /// Only entries by someone other than the subject (the customer's access log).
    pub exclude_subject_actor: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &Filter,
    before_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    let mut query = audit_log::table
        .order(audit_log::seq.desc())
        .limit(limit)
        .select(EntryRow::as_select())
        .into_boxed();
    if let Some(seq) = before_seq {
        query = query.filter(audit_log::seq.lt(seq));
    }
    if let Some(s) = &filter.subject_id {
        query = query.filter(audit_log::subject_id.eq(s.clone()));
    }
    if let Some(a) = &filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(a.clone()));
    }
    if let Some(a) = &filter.action {
        query = query.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::at.lt(to));
    }
    if filter.exclude_subject_actor {
        query = query.filter(audit_log::actor_kind.ne("subject"));
    }
    query.load(conn)
}
