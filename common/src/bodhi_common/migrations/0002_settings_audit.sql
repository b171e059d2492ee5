-- Who changed which runtime setting, when, to what (null: reset to the environment/default).
CREATE TABLE settings_audit (
    id      bigserial PRIMARY KEY,
    key     text NOT NULL,
    value   jsonb,
    actor   text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);

-- Every replica re-reads its settings when one of them changes a value.
CREATE FUNCTION settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('settings_changed', COALESCE(NEW.key, OLD.key));
    RETURN NULL;
END $$;
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH ROW EXECUTE FUNCTION settings_notify();
