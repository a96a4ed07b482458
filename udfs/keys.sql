-- Key macros: pure SQL over DuckDB built-ins, loaded on every connect before the macros of the function table.

-- The 64-bit hash every seeded choice starts from (sqlsel/kernels/keys.py says why): an integer key by its
-- value modulo 2^64, a string (or UUID, by its text) by the first 16 hex digits of the MD5 of its UTF-8 bytes.
-- typeof() is constant, so DuckDB keeps only the branch of the key's type.
CREATE OR REPLACE MACRO sel_key_hash(key) AS
    CASE WHEN typeof(key) IN ('VARCHAR', 'UUID') THEN ('0x' || left(md5(key::VARCHAR), 16))::UBIGINT
         WHEN typeof(key) = 'UHUGEINT' THEN (key::UHUGEINT & 18446744073709551615::UHUGEINT)::UBIGINT
         WHEN typeof(key) IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
                              'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT')
              THEN (key::HUGEINT & 18446744073709551615::HUGEINT)::UBIGINT
         WHEN typeof(key) = '"NULL"' THEN NULL::UBIGINT
         -- a failing cast, not error(): error() is volatile, and volatile expressions cannot order windows
         ELSE ('sel_key_hash: a row key must be an integer or a string (VARCHAR, UUID), not ' || typeof(key)
               || '; floating-point keys cannot name rows exactly')::UBIGINT END;
