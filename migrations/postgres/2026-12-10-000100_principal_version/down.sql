DROP TRIGGER users_principal_removed ON users;
DROP TRIGGER users_principal_changed ON users;
DROP FUNCTION principal_changed();
DELETE FROM counters WHERE name = 'principals';
