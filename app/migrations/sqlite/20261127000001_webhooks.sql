-- Webhooks: the endpoints merchants register, the events their changes cause, and each
-- event's delivery to each endpoint. An event and its deliveries are written in the same
-- transaction as the change and its audit event (a transactional outbox): a crash loses
-- none, and the delivery workers send them from here.

CREATE TABLE webhook_endpoints (
    id                          TEXT PRIMARY KEY,
    merchant_id                 TEXT NOT NULL REFERENCES merchants(id),
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL DEFAULT '',
    events                      TEXT NOT NULL,     -- '*' or ',ipp.device.registered,...,'
    enabled                     BIGINT NOT NULL DEFAULT 1,
    secret                      TEXT NOT NULL,     -- whsec_...; it signs, so it is kept as is
    previous_secret             TEXT,              -- signs as well until it expires
    previous_secret_expires_at  BIGINT,
    failing_since               BIGINT,            -- the first failed attempt since the last success
    disabled_at                 BIGINT,
    disabled_reason             TEXT,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id, created_at);

CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY,                 -- kevt_...: the webhook-id of its deliveries
    merchant_id  TEXT NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    body         TEXT NOT NULL                     -- the JSON sent, the same on every attempt
);
CREATE INDEX webhook_events_by_time ON webhook_events (occurred_at);

CREATE TABLE webhook_deliveries (
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    merchant_id       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    created_at        BIGINT NOT NULL,
    -- PENDING: due at this time; while an attempt is under way, when its claim lapses.
    next_attempt_at   BIGINT,
    claim             TEXT,                        -- the attempt under way, if any
    attempts          BIGINT NOT NULL DEFAULT 0,
    manual            BIGINT NOT NULL DEFAULT 0,   -- 1 after a resend: one attempt, no retries
    last_attempt_at   BIGINT,
    last_status_code  BIGINT,
    last_latency_ms   BIGINT,
    last_error        TEXT,
    last_response     TEXT,                        -- at most 64 KB of the last answer's body
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_by_endpoint
    ON webhook_deliveries (endpoint_id, created_at DESC, event_id DESC);

CREATE TABLE webhook_attempts (
    endpoint_id   TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,                          -- none when no answer came
    latency_ms    BIGINT NOT NULL,
    error         TEXT,
    PRIMARY KEY (endpoint_id, event_id, attempt),
    FOREIGN KEY (endpoint_id, event_id)
        REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
);

-- ipp.enrollment.expired is sent once, by a sweeper, soon after a code expires unused:
-- this marks the codes it has announced. Codes that expired before webhooks existed are
-- not announced.
ALTER TABLE enrollments ADD COLUMN expiry_announced_at BIGINT;
UPDATE enrollments SET expiry_announced_at = expires_at
 WHERE status = 'PENDING' AND expires_at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX enrollments_awaiting_expiry
    ON enrollments (expires_at) WHERE status = 'PENDING' AND expiry_announced_at IS NULL;
