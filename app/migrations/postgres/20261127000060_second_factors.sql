-- Second factors of portal users: an authenticator app (TOTP), passkeys (WebAuthn) and
-- recovery codes, and a merchant's rule that every user must have one.

ALTER TABLE merchants ADD COLUMN require_second_factor BIGINT NOT NULL DEFAULT 0;

-- One authenticator app per user. The secret is kept as it is: codes are computed from it.
CREATE TABLE user_totp (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret          TEXT NOT NULL,              -- base32
    confirmed_at    BIGINT,                     -- NULL until a first code confirms it
    last_used_step  BIGINT NOT NULL DEFAULT 0,  -- highest 30 s step accepted: each code works once
    created_at      BIGINT NOT NULL
);

-- Ten single-use codes per user, stored only as hashes; regenerating replaces them all.
CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL UNIQUE,        -- base64url, as the authenticator names it
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,               -- the stored public key credential, JSON
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);
