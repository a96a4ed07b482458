-- ZIP-FIT target sets. A set is a sel_models row (kind 'zipfit', params: algorithm, level, texts,
-- bytes); its texts live here with their compressed sizes, computed once when the set is stored.

CREATE TABLE sel_zipfit_texts (
    model_id BIGINT NOT NULL,
    ordinal  INTEGER NOT NULL,   -- position in the set, 0-based
    text     VARCHAR NOT NULL,
    size     BIGINT NOT NULL     -- C(text): compressed bytes under the set's algorithm and level
);
