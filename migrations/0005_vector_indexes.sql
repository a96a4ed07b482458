-- Vector indexes over stored vector tables (sel_index_build), one row per index.

CREATE TABLE sel_vector_indexes (
    name         VARCHAR PRIMARY KEY,
    vector_table VARCHAR NOT NULL,   -- the sel_vector_tables name it indexes
    lance_table  VARCHAR NOT NULL,   -- the Lance table it was built on (a re-stored vector table gets a new one)
    metric       VARCHAR NOT NULL,   -- cosine | l2 | dot
    index_type   VARCHAR NOT NULL,   -- IVF_HNSW_SQ, IVF_PQ, ... or FLAT (exact search: no ANN index)
    data_version BIGINT NOT NULL,    -- the Lance table's version right after the build; any later write makes it stale
    rows         BIGINT NOT NULL,
    created      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
