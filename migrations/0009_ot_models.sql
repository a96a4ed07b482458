-- Optimal-transport models (kind 'ot'; params: eps, dim, pool_rows, target_rows, iterations): a pool/target
-- pair's entropic OT solution as the target side keeps it. One row per target row: its embedding (unit length)
-- and its dual potential g, shifted so the fitted pool rows' potentials have mean 0. Any row's potential is then
-- the c-transform of g (sel_ot_gradient), the fitted rows' own to the solver's tolerance.

CREATE TABLE sel_ot_targets (
    model_id  BIGINT NOT NULL,
    row       INTEGER NOT NULL,  -- 0-based, in the target's key order
    potential DOUBLE NOT NULL,
    embedding DOUBLE[] NOT NULL  -- double: the fitted rows' own potentials come back to 1e-9
);
