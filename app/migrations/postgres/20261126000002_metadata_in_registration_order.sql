-- A metadata filter lists devices newest first. Each metadata row carries its device's
-- registration time (which never changes), and the lookup index ends with it: a filter
-- then reads its first page in order from the index and counts its matches from the index
-- alone, instead of reading and sorting every matching device.
ALTER TABLE device_metadata ADD COLUMN device_created_at BIGINT NOT NULL DEFAULT 0;
UPDATE device_metadata m
   SET device_created_at = d.created_at
  FROM devices d
 WHERE d.id = m.device_id;
DROP INDEX device_metadata_lookup;
CREATE INDEX device_metadata_lookup
    ON device_metadata (merchant_id, key, value, device_created_at, device_id);
