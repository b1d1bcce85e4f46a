-- Each user may choose the time zone the portal shows times in (an IANA name such as
-- `Europe/Stockholm`); NULL: the zone of the browser they signed in with.
ALTER TABLE users ADD COLUMN time_zone TEXT;

-- The overview reads, for one merchant (and a store manager's locations):
-- the live codes that expire soonest,
CREATE INDEX enrollments_pending_by_expiry
    ON enrollments (merchant_id, expires_at, location_id) WHERE status = 'PENDING';
-- the devices not heard from for a while (last seen, or registered if never seen since),
CREATE INDEX devices_by_activity
    ON devices (merchant_id, (COALESCE(last_seen_at, created_at)), location_id);
-- and a store manager's own recent changes (also the audit log's filter by actor).
CREATE INDEX audit_events_by_actor ON audit_events (merchant_id, actor_id, id DESC);
