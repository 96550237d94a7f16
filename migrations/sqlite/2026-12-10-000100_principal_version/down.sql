DROP TRIGGER users_principal_removed;
DROP TRIGGER users_principal_changed;
DELETE FROM counters WHERE name = 'principals';
