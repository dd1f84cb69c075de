-- Each device's audit entries travel in its log: the last of this device's
-- entries put in a segment, and the entries of the other devices, sealed
-- as in their own chains.
ALTER TABLE sync_device ADD COLUMN audit_sent INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sync_audit (
    device BLOB    NOT NULL CHECK (length(device) = 16),
    seq    INTEGER NOT NULL CHECK (seq >= 1),
    sealed BLOB    NOT NULL,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
