-- The whole product's schema. Times are milliseconds since the Unix epoch; ids are UUID text.

CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE locations (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    name         TEXT NOT NULL,
    city         TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX locations_by_merchant ON locations (merchant_id, name);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants(id),
    email                TEXT NOT NULL UNIQUE,   -- stored lower-case; login is by email alone
    password_hash        TEXT NOT NULL,          -- argon2id PHC string
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'ops', 'store_manager')),
    created_at           BIGINT NOT NULL,
    password_changed_at  BIGINT NOT NULL,        -- sessions from before this are void
    must_change_password BIGINT NOT NULL DEFAULT 0,  -- 1 after a one-time password
    disabled_at          BIGINT
);
CREATE INDEX users_by_merchant ON users (merchant_id, email);

CREATE TABLE user_locations (
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    location_id  TEXT NOT NULL REFERENCES locations(id),
    PRIMARY KEY (user_id, location_id)
);

-- Portal sessions live in table `sessions`, created and read by tower-sessions' sqlx store.

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    name                TEXT NOT NULL,
    key_prefix          TEXT NOT NULL,           -- the first characters, to tell keys apart
    key_hash            TEXT NOT NULL UNIQUE,    -- SHA-256 of the key; the key itself is never stored
    created_by_user_id  TEXT REFERENCES users(id),
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX api_keys_by_merchant ON api_keys (merchant_id, created_at);

CREATE TABLE enrollments (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants(id),
    location_id          TEXT NOT NULL REFERENCES locations(id),
    code                 TEXT NOT NULL,          -- shown only while PENDING; kept to answer 410 later
    status               TEXT NOT NULL CHECK (status IN ('PENDING', 'CONSUMED', 'CANCELLED')),
    expires_at           BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    created_by_kind      TEXT NOT NULL,
    created_by_id        TEXT,
    created_by_label     TEXT NOT NULL,
    consumed_at          BIGINT,
    cancelled_at         BIGINT,
    device_id            TEXT,
    idempotency_key      TEXT,
    request_fingerprint  TEXT,
    batch_id             TEXT                    -- set for codes created together on one sheet
);
-- A live code is unique; used, cancelled and expired ones may repeat later.
CREATE UNIQUE INDEX enrollments_pending_code ON enrollments (code) WHERE status = 'PENDING';
CREATE INDEX enrollments_by_code ON enrollments (code, created_at DESC);
CREATE UNIQUE INDEX enrollments_by_idempotency_key
    ON enrollments (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX enrollments_by_merchant ON enrollments (merchant_id, created_at DESC, id DESC);
CREATE INDEX enrollments_by_batch ON enrollments (merchant_id, batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE enrollment_metadata (
    enrollment_id  TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    merchant_id    TEXT NOT NULL,
    key            TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (enrollment_id, key)
);
CREATE INDEX enrollment_metadata_lookup ON enrollment_metadata (merchant_id, key, value, enrollment_id);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    location_id    TEXT NOT NULL REFERENCES locations(id),
    enrollment_id  TEXT NOT NULL UNIQUE REFERENCES enrollments(id),
    hardware_id    TEXT NOT NULL,
    name           TEXT NOT NULL,
    platform       TEXT NOT NULL CHECK (platform IN ('IOS', 'ANDROID')),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    last_seen_at   BIGINT
);
CREATE INDEX devices_by_merchant ON devices (merchant_id, created_at DESC, id DESC);
CREATE INDEX devices_by_location ON devices (merchant_id, location_id, created_at DESC, id DESC);
CREATE INDEX devices_by_name ON devices (merchant_id, name, id);
CREATE INDEX devices_by_last_seen ON devices (merchant_id, (COALESCE(last_seen_at, 0)), id);
CREATE UNIQUE INDEX devices_by_hardware ON devices (merchant_id, hardware_id);

-- Metadata as rows, not JSON, so a key:value filter is an index range, not a scan.
CREATE TABLE device_metadata (
    device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    merchant_id  TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX device_metadata_lookup ON device_metadata (merchant_id, key, value, device_id);

CREATE TABLE device_tokens (
    token_hash  TEXT PRIMARY KEY,                -- SHA-256 of the bearer token
    device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX device_tokens_by_device ON device_tokens (device_id);

CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    occurred_at  BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL,                  -- user, api_key, device, system
    actor_id     TEXT,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,                  -- e.g. enrollment.created
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    details      TEXT NOT NULL DEFAULT '{}'      -- JSON
);
CREATE INDEX audit_events_by_merchant ON audit_events (merchant_id, id DESC);
CREATE INDEX audit_events_by_target ON audit_events (merchant_id, target_id, id DESC);

-- Failed attempts (pairing codes, sign-ins) per fixed window, shared by every server instance.
CREATE TABLE attempt_failures (
    bucket        TEXT NOT NULL,                 -- e.g. 'register:global', 'login:email:<email>'
    window_start  BIGINT NOT NULL,
    failures      BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
