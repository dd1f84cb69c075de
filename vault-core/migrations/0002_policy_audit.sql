-- Policy records (clients, grants, deny rules), sealed whole: only ids are
-- plaintext, so not even the kind of a record shows.
CREATE TABLE records (
    rowid  INTEGER PRIMARY KEY,
    id     BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    sealed BLOB NOT NULL
);

-- The audit log: one sealed entry per row, chained by MAC.
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY CHECK (seq >= 1),
    sealed BLOB NOT NULL,
    mac    BLOB NOT NULL CHECK (length(mac) = 32)
);

-- The keyed head of the audit chain: entry count and last MAC, under a MAC.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    count     INTEGER NOT NULL,
    last_mac  BLOB NOT NULL CHECK (length(last_mac) = 32),
    head_mac  BLOB NOT NULL CHECK (length(head_mac) = 32)
);
