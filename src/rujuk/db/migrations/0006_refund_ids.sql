-- Each refund of a purchase under the partner's refundId, its idempotency key: a partner
-- retries a refund that timed out, and the retry must find the first one instead of
-- refunding again. The unique key settles it even between workers: of two calls with the
-- same refundId only one can commit its row. amount is what the first call refunded (what
-- was left, when it gave none), which a retry's amount is compared with.
--
-- Foreign keys here, unlike the purchase path's tables (0004): refunds are rare, so their
-- checks cost nothing that matters, and nothing that a refund refers to is ever deleted.
CREATE TABLE refund (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id  bigint NOT NULL REFERENCES program (id),
    refund_id   text NOT NULL CHECK (length(refund_id) BETWEEN 1 AND 200),
    purchase_id bigint NOT NULL REFERENCES purchase (id),
    amount      numeric NOT NULL CHECK (amount > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, refund_id)
);

CREATE TRIGGER refund_kept BEFORE DELETE OR TRUNCATE ON refund
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
