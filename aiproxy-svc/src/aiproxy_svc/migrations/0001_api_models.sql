-- Remote OpenAI-compatible providers ("API model aliases"). The API key itself lives in
-- secret-svc (namespace aiproxy, name api-key/<id>); only its masked form is kept here.
CREATE TABLE api_models (
    id             text PRIMARY KEY,
    api_format     text NOT NULL CHECK (api_format IN ('openai')),
    base_url       text NOT NULL,
    models         text[] NOT NULL CHECK (cardinality(models) > 0),
    prefix         text CHECK (prefix <> ''),
    api_key_masked text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX api_models_by_creation ON api_models (created_at DESC, id);

-- Every change is announced, so that every aiproxy replica drops its cached routes and keys at
-- once (LISTEN api_models_changed); the payload is the id that changed.
CREATE FUNCTION api_models_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_models_changed', COALESCE(NEW.id, OLD.id));
    RETURN NULL;
END $$;
CREATE TRIGGER api_models_changed AFTER INSERT OR UPDATE OR DELETE ON api_models
    FOR EACH ROW EXECUTE FUNCTION api_models_notify();
