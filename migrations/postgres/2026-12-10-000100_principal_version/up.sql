-- The principals version: bumped in the same transaction as any change to what an access
-- token's account may do (the role or status of an account that tokens admit, active or
-- erasure_pending, or its row going away; a confirmation or a recovery only grants). Every API
-- process polls it with the catalogue and policy versions and drops the accounts it had
-- looked up when it moves, so a disabled account stops on every instance within a poll
-- without a query per request.
INSERT INTO counters (name, value) VALUES ('principals', 0);

CREATE FUNCTION principal_changed() RETURNS trigger AS $$
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'principals';
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_principal_changed AFTER UPDATE OF role, status ON users
    FOR EACH ROW WHEN (OLD.status IN ('active', 'erasure_pending')
        AND (OLD.role IS DISTINCT FROM NEW.role OR OLD.status IS DISTINCT FROM NEW.status))
    EXECUTE FUNCTION principal_changed();

CREATE TRIGGER users_principal_removed AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION principal_changed();
