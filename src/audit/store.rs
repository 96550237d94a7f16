//! Appending to and reading the audit log.

use diesel::prelude::*;

use super::base;
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
    pub(super) fn canonical<'a>(&'a self, at: &'a str) -> Canonical<'a> {
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

/// Recomputes the whole chain, in batches, over one snapshot of the database, and reports
/// the first entry that breaks it. Entries deleted by retention are not missing: the chain
/// starts after the signed base ([`super::base`]), whose MAC the first kept entry chains onto.
pub fn verify(conn: &mut DbConnection, crypto: &Crypto) -> QueryResult<VerifyReport> {
    crate::db::read_transaction(conn, |conn| verify_snapshot(conn, crypto))
}

fn verify_snapshot(conn: &mut DbConnection, crypto: &Crypto) -> QueryResult<VerifyReport> {
    const BATCH: i64 = 1000;
    let (head_seq, head_mac) = head(conn)?;
    let base = base::read(conn)?;
    let mut prev_mac: Vec<u8> = base.mac.clone();
    let mut expected = base.seq + 1;
    let mut checked = 0i64;
    let broken = |seq: i64, checked: i64, problem: String| VerifyReport {
        intact: false,
        checked,
        head_seq,
        pruned_through_seq: base.seq,
        first_broken_seq: Some(seq),
        problem: Some(problem),
    };
    if !base.holds(crypto.anchor_key()) {
        return Ok(broken(
            base.seq + 1,
            0,
            format!(
                "the record of entries deleted by retention (up to entry {}) is not signed by \
                 this shop's key",
                base.seq
            ),
        ));
    }
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
        pruned_through_seq: base.seq,
        first_broken_seq: None,
        problem: None,
    })
}

/// Entries retention would delete: kept after the base and written before `before`.
pub fn count_due(conn: &mut DbConnection, before: chrono::NaiveDateTime) -> QueryResult<i64> {
    let base = base::read(conn)?;
    audit_log::table
        .filter(audit_log::seq.gt(base.seq))
        .filter(audit_log::at.lt(before))
        .count()
        .get_result(conn)
}

/// Deletes up to `limit` of the oldest entries written before `before`, in the caller's
/// transaction, and moves the base past them. Only a prefix that verifies goes: at an entry
/// that does not chain (or a base that is not signed) it stops and keeps the evidence, which
/// `audit verify` then reports. Returns the number deleted.
pub fn prune(
    conn: &mut DbConnection,
    crypto: &Crypto,
    before: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    // Several instances run retention: one prunes at a time.
    base::lock(conn)?;
    let base = base::read(conn)?;
    let key = crypto.audit_key();
    if !base.holds(crypto.anchor_key()) {
        tracing::warn!("audit retention: the chain's base is not signed by this shop's key; nothing deleted (run `valise audit verify`)");
        return Ok(0);
    }
    let rows: Vec<EntryRow> = audit_log::table
        .filter(audit_log::seq.gt(base.seq))
        .filter(audit_log::at.lt(before))
        .order(audit_log::seq.asc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?;
    let mut prev_mac = base.mac.clone();
    let mut last: Option<&EntryRow> = None;
    for (expected, row) in (base.seq + 1..).zip(rows.iter()) {
        let at = chain_time(row.at);
        if row.seq != expected || !chain::verify_mac(key, &prev_mac, &row.canonical(&at), &row.mac)
        {
            tracing::warn!(
                "audit retention: the chain does not verify at entry {expected}; entries from \
                 there on are kept (run `valise audit verify`)"
            );
            break;
        }
        prev_mac.clone_from(&row.mac);
        last = Some(row);
    }
    let Some(last) = last else {
        return Ok(0);
    };
    let deleted = diesel::delete(
        audit_log::table
            .filter(audit_log::seq.gt(base.seq))
            .filter(audit_log::seq.le(last.seq)),
    )
    .execute(conn)?;
    base::advance(conn, crypto.anchor_key(), last.seq, last.mac.clone())?;
    Ok(deleted)
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
