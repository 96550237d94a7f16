// The one hand-written schema, portable across SQLite and PostgreSQL: only types that diesel's
// MultiConnection supports (no Timestamptz, Uuid or Jsonb). Times are UTC `TIMESTAMP`s.

diesel::table! {
    policies (version) {
        version -> Integer,
        text -> Text,
        summary -> Text,
        sha256 -> Text,
        published_at -> Timestamp,
    }
}
