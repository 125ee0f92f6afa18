-- The documents an operator registered (`rujuk persisted-queries add`), keyed by the SHA-256
-- of their exact text as Apollo's persisted-query link hashes it. With
-- RUJUK_PERSISTED_QUERIES=only they are the only documents that run; otherwise clients may
-- also register documents, which each worker keeps in memory only (a client must not be able
-- to grow this table).
CREATE TABLE persisted_query (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    document text NOT NULL,
    name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
