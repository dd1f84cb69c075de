-- ctxvault schema v1. Only ids, versions and timestamps are plaintext.
CREATE TABLE vault_meta (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id   BLOB    NOT NULL CHECK (length(vault_id) = 16),
    format     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per way in: the master key wrapped by age.
CREATE TABLE key_slots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('passphrase', 'identity')),
    label      TEXT    NOT NULL,
    wrapped    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX key_slots_one_passphrase ON key_slots (kind) WHERE kind = 'passphrase';

-- Items: id (UUID v7 bytes), version, timestamps in unix microseconds, and
-- the sealed record holding every other field.
CREATE TABLE items (
    rowid      INTEGER PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sealed     BLOB    NOT NULL
);
