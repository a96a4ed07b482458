-- Vector tables materialised into LanceDB beside the catalog (sel_vectors_store), one row per table.

CREATE TABLE sel_vector_tables (
    name    VARCHAR PRIMARY KEY,   -- what sel_vectors_load and later index functions take
    path    VARCHAR NOT NULL,      -- the LanceDB database folder holding the table
    lance_table VARCHAR NOT NULL,  -- the table's name inside that folder (new on every store)
    rows    BIGINT NOT NULL,
    dim     INTEGER NOT NULL,      -- length of the embedding column (a fixed-size list in Lance)
    version BIGINT NOT NULL,       -- Lance table version written; a later write makes older indexes stale
    source  VARCHAR NOT NULL,      -- the table, view or query it was stored from
    created TIMESTAMP NOT NULL DEFAULT current_timestamp
);
