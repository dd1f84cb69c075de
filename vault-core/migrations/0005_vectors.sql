-- Item vectors for recall by meaning: one per item and embedding model,
-- sealed like items (the associated data binds vault, item id, version and
-- model). Only the item's rowid, the model's id and the version embedded
-- are plaintext. A vector whose version is not its item's is stale.
CREATE TABLE vectors (
    item    INTEGER NOT NULL REFERENCES items (rowid) ON DELETE CASCADE,
    model   TEXT    NOT NULL CHECK (length(model) BETWEEN 1 AND 128),
    version INTEGER NOT NULL CHECK (version >= 1),
    sealed  BLOB    NOT NULL,
    PRIMARY KEY (item, model)
) WITHOUT ROWID;
