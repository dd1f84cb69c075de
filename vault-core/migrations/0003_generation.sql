-- A commit counter: every write transaction adds one. A copy of it, under a
-- MAC, is kept outside the database (vault.head), so a database rolled back
-- to an older state (a write-ahead log cut short, an old copy restored) is
-- detected at unlock.
ALTER TABLE vault_meta ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
