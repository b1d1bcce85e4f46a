-- Indexes the webhook tables were missing.

-- An event's deliveries: removing old events checks that none is pending, and deleting an
-- event cascades to its deliveries; both went through the whole table.
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- An endpoint's latest attempt, read from the start of the index instead of sorting all
-- of its attempts.
CREATE INDEX webhook_attempts_latest
    ON webhook_attempts (endpoint_id, attempted_at DESC, attempt DESC);

-- The deliveries due now, of every endpoint: the delivery worker's look for work reads
-- only these, however many endpoints there are.
CREATE INDEX webhook_deliveries_due_by_time
    ON webhook_deliveries (next_attempt_at, endpoint_id) WHERE status = 'PENDING';
