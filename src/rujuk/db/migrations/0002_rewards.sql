-- Purchases and the reward ledger.

CREATE TABLE purchase (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id      bigint NOT NULL REFERENCES program (id),
    customer_id     bigint NOT NULL REFERENCES customer (id),
    order_id        text NOT NULL CHECK (length(order_id) BETWEEN 1 AND 200),
    amount          numeric NOT NULL CHECK (amount > 0),
    refunded_amount numeric NOT NULL DEFAULT 0,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- The idempotency key: one purchase per order, whatever the retries.
    UNIQUE (program_id, order_id),
    CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
);
CREATE INDEX purchase_customer ON purchase (customer_id, occurred_at);
CREATE INDEX purchase_program_time ON purchase (program_id, occurred_at);

-- One row per reward, holding its current state; reward_entry keeps every change.
CREATE TABLE reward (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id     bigint NOT NULL REFERENCES program (id),
    purchase_id    bigint NOT NULL REFERENCES purchase (id),
    beneficiary_id bigint NOT NULL REFERENCES customer (id),
    kind           text NOT NULL CHECK (kind IN ('REFERRER_COMMISSION', 'REFEREE_WELCOME')),
    level          integer NOT NULL CHECK (level >= 0),
    rate           numeric,
    tier           text,
    first_amount   numeric NOT NULL CHECK (first_amount > 0),
    amount         numeric NOT NULL,
    status         text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REVERSED')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    available_at   timestamptz NOT NULL,
    -- The referees whose links lie between the purchaser and the beneficiary: the reward
    -- is held while one of them is FLAGGED and reversed when one is REJECTED.
    path           bigint[] NOT NULL,
    CHECK (amount >= 0),
    CHECK ((status = 'REVERSED') = (amount = 0)),
    CHECK ((kind = 'REFEREE_WELCOME') = (level = 0))
);
CREATE INDEX reward_beneficiary ON reward (beneficiary_id, id);
CREATE INDEX reward_purchase ON reward (purchase_id);
CREATE INDEX reward_pending ON reward (program_id, available_at) WHERE status = 'PENDING';
CREATE INDEX reward_path ON reward USING gin (path) WHERE status = 'PENDING';

-- The append-only ledger: every amount or status change of a reward, in order.
CREATE TABLE reward_entry (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reward_id  bigint NOT NULL REFERENCES reward (id),
    kind       text NOT NULL CHECK (kind IN ('EARNED', 'REFUND', 'APPROVED', 'REVERSED')),
    delta      numeric NOT NULL,
    status     text NOT NULL,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reward_entry_reward ON reward_entry (reward_id);

CREATE INDEX referral_program ON referral (program_id);
CREATE INDEX customer_program_joined ON customer (program_id, joined_at);
