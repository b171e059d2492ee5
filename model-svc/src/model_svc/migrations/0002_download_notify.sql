-- Every write to a download is announced, so that watchers on every model-svc replica follow
-- it (LISTEN downloads_changed); the payload is the download's id. Workers write progress at
-- most once a second per download, which bounds the rate.
CREATE FUNCTION downloads_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('downloads_changed', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER downloads_changed AFTER INSERT OR UPDATE ON downloads
    FOR EACH ROW EXECUTE FUNCTION downloads_notify();
