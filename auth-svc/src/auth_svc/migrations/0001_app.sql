-- This installation: one row once setup has started; no row means status 'setup'.
CREATE TABLE app (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    status      text NOT NULL CHECK (status IN ('setup', 'resource-admin', 'ready')),
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    client_id   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
