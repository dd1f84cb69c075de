-- Sync across devices. This device's place in the log: its id, its hybrid
-- logical clock, the number of its next segment and the hash of its last.
CREATE TABLE sync_device (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    device    BLOB    NOT NULL CHECK (length(device) = 16),
    clock     INTEGER NOT NULL,
    next_seq  INTEGER NOT NULL CHECK (next_seq >= 1),
    last_hash BLOB    NOT NULL CHECK (length(last_hash) = 32),
    remote    BLOB
);
-- Every operation of the log known here: its id, the item or record it
-- changes, its clock and device. `leaf` while no known operation names it
-- as a parent; `parents` the ids it was made on, 16 bytes each; `winner` for the one whose state the vault holds; `pending`
-- for this device's own not yet in a segment. `body` (the sealed item or
-- record, as stored) is kept while pending and for leaves that lost: the
-- versions a conflict keeps.
CREATE TABLE sync_ops (
    op      BLOB    PRIMARY KEY CHECK (length(op) = 16),
    entity  BLOB    NOT NULL CHECK (length(entity) = 16),
    clock   INTEGER NOT NULL,
    device  BLOB    NOT NULL CHECK (length(device) = 16),
    leaf    INTEGER NOT NULL,
    winner  INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    parents BLOB    NOT NULL,
    body    BLOB
) WITHOUT ROWID;
CREATE INDEX sync_ops_entity ON sync_ops (entity) WHERE leaf = 1 OR winner = 1;
CREATE INDEX sync_ops_pending ON sync_ops (clock) WHERE pending = 1;
-- Which operation was made on top of which.
CREATE TABLE sync_edges (
    parent BLOB NOT NULL,
    child  BLOB NOT NULL,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
-- This device's sealed segments not yet written to the remote.
CREATE TABLE sync_outbox (
    seq   INTEGER PRIMARY KEY,
    bytes BLOB NOT NULL
);
-- Every segment read from (or written to) the remote, per device: its size,
-- the remote's stamp of it and its hash, to tell one removed, replaced or
-- rolled back.
CREATE TABLE sync_seen (
    device BLOB    NOT NULL CHECK (length(device) = 16),
    seq    INTEGER NOT NULL CHECK (seq >= 1),
    size   INTEGER NOT NULL,
    stamp  TEXT    NOT NULL,
    hash   BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
-- A device whose log failed an integrity check: not applied until the user
-- decides.
CREATE TABLE sync_blocked (
    device BLOB PRIMARY KEY CHECK (length(device) = 16),
    reason TEXT NOT NULL
) WITHOUT ROWID;
