-- A pairing code is kept in plain text only while it can still be used (`live_code`, shown
-- to staff and printed on sheets). Every code is found by its SHA-256 (`code_hash`), so a
-- late attempt with a used, cancelled or expired code still gets "gone" once the plain
-- text is cleared.
--
-- SQLite has no SHA-256: the store fills `code_hash` of the live codes right after this
-- migration, from `live_code`. Codes already used or cancelled before it keep no hash, and
-- a late attempt with one of them is answered as an unknown code.
DROP INDEX enrollments_pending_code;
DROP INDEX enrollments_by_code;
ALTER TABLE enrollments ADD COLUMN live_code TEXT;
ALTER TABLE enrollments ADD COLUMN code_hash TEXT;
UPDATE enrollments SET live_code = code WHERE status = 'PENDING';
ALTER TABLE enrollments DROP COLUMN code;
-- A live code is unique; used, cancelled and expired ones may repeat later.
CREATE UNIQUE INDEX enrollments_pending_code ON enrollments (code_hash) WHERE status = 'PENDING';
CREATE INDEX enrollments_by_code_hash ON enrollments (code_hash, created_at DESC);
-- What the sweep of expired codes reads: the codes still kept in plain text.
CREATE INDEX enrollments_live_code_expiry ON enrollments (expires_at) WHERE live_code IS NOT NULL;
