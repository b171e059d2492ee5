-- The registered OAuth client's redirect URIs (exact strings sent at registration).
ALTER TABLE app ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}';

-- People known from a login; roles live here, not at the provider.
CREATE TABLE users (
    user_id       text PRIMARY KEY,  -- the provider's `sub`
    issuer        text NOT NULL,
    username      text NOT NULL,
    email         text,
    first_name    text,
    last_name     text,
    role          text CHECK (role IN ('resource_user', 'resource_power_user',
                                       'resource_manager', 'resource_admin')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz
);
CREATE INDEX users_by_username ON users (username);

CREATE TABLE access_requests (
    id         bigserial PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (user_id),
    username   text NOT NULL,
    status     text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reviewer   text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- At most one pending request per person, even under concurrent requests.
CREATE UNIQUE INDEX access_requests_one_pending ON access_requests (user_id)
    WHERE status = 'pending';

-- API tokens: a lookup prefix and the SHA-256 of the whole token; the token itself is shown
-- once and never stored.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (user_id),
    name         text NOT NULL DEFAULT '',
    token_prefix text NOT NULL UNIQUE,
    token_hash   text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('scope_token_user', 'scope_token_power_user',
                                                'scope_token_manager', 'scope_token_admin')),
    status       text NOT NULL CHECK (status IN ('active', 'inactive')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at DESC);

-- Third-party OAuth clients allowed to call this server with their users' tokens.
CREATE TABLE app_clients (
    client_id  text PRIMARY KEY,
    granted_at timestamptz NOT NULL
);
