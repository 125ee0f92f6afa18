-- Webhooks: each program's endpoints, the transactional outbox of events, one delivery per
-- (event, endpoint) and the log of its attempts.

CREATE TABLE webhook_endpoint (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id            bigint NOT NULL REFERENCES program (id),
    url                   text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description           text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types           text[] NOT NULL CHECK (cardinality(event_types) > 0),
    enabled               boolean NOT NULL DEFAULT true,
    disabled_reason       text,
    -- Raw HMAC keys: they must be kept to sign, so they cannot be hashed.
    secret                bytea NOT NULL CHECK (length(secret) >= 24),
    -- After a rotation the old key signs beside the new one until previous_secret_until.
    previous_secret       bytea,
    previous_secret_until timestamptz,
    -- The first failed attempt since the last success: five days of it disables the endpoint.
    failing_since         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoint_program ON webhook_endpoint (program_id);

-- The outbox: written by the transaction of the change it reports, so an event exists if and
-- only if its change committed. body is the exact JSON that is signed and sent.
CREATE TABLE webhook_event (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id bigint NOT NULL,
    type       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- event_id has no foreign key: deliveries are inserted by the statement that inserts their
-- event, joined to the rows it returns (see 0004_ledger_references.sql for why).
CREATE TABLE webhook_delivery (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint NOT NULL,
    endpoint_id      bigint NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    -- A claim by one worker; once it has passed, any worker may claim the delivery again.
    leased_until     timestamptz,
    retry_until      timestamptz NOT NULL,
    last_status_code integer,
    last_error       text,
    last_latency_ms  integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (event_id, endpoint_id),
    CHECK ((status = 'PENDING') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_delivery_due ON webhook_delivery (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_delivery_endpoint ON webhook_delivery (endpoint_id, id);

CREATE TABLE webhook_attempt (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    latency_ms   integer NOT NULL,
    error        text
);
CREATE INDEX webhook_attempt_delivery ON webhook_attempt (delivery_id, id);
