-- Pull requests of model files, and their progress.
CREATE TABLE downloads (
    id               uuid PRIMARY KEY,
    repo             text NOT NULL,
    filename         text NOT NULL,
    revision         text NOT NULL,
    alias            text,           -- a catalog pull: the user alias to create when done
    status           text NOT NULL CHECK (status IN ('pending', 'completed', 'error', 'cancelled')),
    error            text,
    error_code       text,
    commit           text,
    total_bytes      bigint,
    downloaded_bytes bigint NOT NULL DEFAULT 0,
    bytes_per_second double precision NOT NULL DEFAULT 0,
    worker           text,           -- the process working on it
    lease_until      timestamptz,    -- its claim expires unless renewed
    started_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- Two pulls of one file at one revision are one download.
CREATE UNIQUE INDEX downloads_one_pending ON downloads (repo, filename, revision)
    WHERE status = 'pending';
CREATE INDEX downloads_by_update ON downloads (updated_at DESC);

-- User aliases: a name for a local GGUF file with default request and context parameters.
CREATE TABLE user_aliases (
    alias          text PRIMARY KEY,
    repo           text NOT NULL,
    filename       text NOT NULL,
    snapshot       text NOT NULL,
    request_params jsonb NOT NULL DEFAULT '{}',
    context_params text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- GGUF metadata read from files, keyed by the file's path, size and modification time.
CREATE TABLE gguf_metadata (
    path     text PRIMARY KEY,
    size     bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    metadata jsonb NOT NULL
);
