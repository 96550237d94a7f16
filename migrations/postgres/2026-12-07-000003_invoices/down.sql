DROP TRIGGER documents_never_change ON documents;
DROP FUNCTION documents_never_change();
DROP TABLE documents;
DROP TABLE documents_due;
DROP TABLE document_counters;
