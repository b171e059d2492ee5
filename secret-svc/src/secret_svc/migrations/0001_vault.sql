-- The vault: how its master key is obtained, which key version new writes use and which
-- versions still decrypt.
CREATE TABLE vault (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    master_kind     text NOT NULL CHECK (master_kind IN ('key', 'passphrase')),
    scrypt          jsonb,  -- salt and parameters when master_kind = 'passphrase'
    current_version integer NOT NULL,
    min_version     integer NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK (min_version >= 1 AND min_version <= current_version)
);

-- One key-encryption key per version, wrapped by the master key (AES-256-GCM).
CREATE TABLE key_versions (
    version     integer PRIMARY KEY CHECK (version >= 1),
    nonce       bytea NOT NULL,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Secrets, each sealed under a per-record key derived from its version's KEK.
CREATE TABLE secrets (
    namespace   text NOT NULL,
    name        text NOT NULL,
    key_version integer NOT NULL REFERENCES key_versions (version),
    salt        bytea NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    size        integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX secrets_by_key_version ON secrets (key_version, namespace, name);

-- Who did what to which secret (the name only as an HMAC), and how it ended.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    caller    text NOT NULL,
    principal text,
    operation text NOT NULL,
    namespace text,
    name_hmac text,
    outcome   text NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
