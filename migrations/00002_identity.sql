-- +goose Up
-- Accounts of residents, operators, finance clerks and admins. Emails are
-- stored normalised (trimmed, lower-case), so the unique index is the rule.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    phone         text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    roles         text[] NOT NULL DEFAULT '{resident}'
                  CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['resident', 'operator', 'finance', 'admin']),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_idx ON users (created_at, id);
CREATE INDEX users_roles_idx ON users USING gin (roles);

-- Who changed whose roles, and to what.
CREATE TABLE user_role_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    roles      text[] NOT NULL,
    changed_by uuid REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_role_changes_user_idx ON user_role_changes (user_id, changed_at);

-- A session is one sign-in on one device: the family of its rotating refresh
-- tokens. Revoking it ends every token of the family, access tokens included.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text CHECK (revoke_reason IN ('logout', 'refresh_token_reused', 'roles_changed', 'admin')),
    user_agent    text,
    ip            text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are stored only as SHA-256 hashes. A token is used once:
-- presenting a used token again revokes its session.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- One driving licence per user, reviewed by operators.
CREATE TABLE driving_licences (
    user_id          uuid PRIMARY KEY REFERENCES users (id),
    number           text NOT NULL,
    issuing_region   text NOT NULL CHECK (issuing_region ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'),
    expires_on       date NOT NULL,
    photo_ref        text,
    status           text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    submitted_at     timestamptz NOT NULL DEFAULT now(),
    reviewed_at      timestamptz,
    reviewed_by      uuid REFERENCES users (id),
    rejection_reason text,
    CHECK ((status = 'pending') = (reviewed_at IS NULL)),
    CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL))
);
CREATE INDEX driving_licences_pending_idx ON driving_licences (submitted_at) WHERE status = 'pending';

-- Fixed-window counters for sign-in and sign-up throttling, shared by every
-- process on the database.
CREATE TABLE auth_throttle (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- +goose Down
DROP TABLE auth_throttle;
DROP TABLE driving_licences;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE user_role_changes;
DROP TABLE users;
