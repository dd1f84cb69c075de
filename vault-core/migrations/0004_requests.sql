-- Requests already answered: an idempotency key sent with a write, and the
-- id of what the write made (an item or a proposal), committed with it, so
-- a retry of the same request is answered from the first outcome.
CREATE TABLE requests (
    key        BLOB PRIMARY KEY CHECK (length(key) = 16),
    result     BLOB NOT NULL CHECK (length(result) = 16),
    created_at INTEGER NOT NULL
);
