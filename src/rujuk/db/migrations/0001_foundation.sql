-- Programs, customers, codes, the referral tree, API tokens and the graph event log.

CREATE TABLE program (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    tiers           jsonb NOT NULL,
    max_payout_rate numeric NOT NULL CHECK (max_payout_rate > 0 AND max_payout_rate <= 1),
    referee_reward  numeric NOT NULL CHECK (referee_reward >= 0),
    hold_days       integer NOT NULL CHECK (hold_days >= 0),
    compression     boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Bumped by every write that changes the referral graph; the row lock it takes
    -- serializes those writes per program and numbers them in commit order.
    graph_version   bigint NOT NULL DEFAULT 0
);

CREATE TABLE customer (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id   bigint NOT NULL REFERENCES program (id),
    external_id  text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    display_name text NOT NULL,
    email        text,
    phone        text,
    device_id    text,
    -- Normalized contacts for the fraud checks; wiped with the rest on erasure.
    email_key    text,
    phone_key    text,
    channel      text NOT NULL,
    joined_at    timestamptz NOT NULL,
    erased_at    timestamptz,
    UNIQUE (program_id, external_id)
);
CREATE INDEX customer_email_key ON customer (program_id, email_key) WHERE email_key IS NOT NULL;
CREATE INDEX customer_phone_key ON customer (program_id, phone_key) WHERE phone_key IS NOT NULL;
CREATE INDEX customer_device ON customer (program_id, device_id) WHERE device_id IS NOT NULL;

CREATE TABLE referral_code (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{4,20}$'),
    program_id  bigint NOT NULL REFERENCES program (id),
    customer_id bigint NOT NULL REFERENCES customer (id),
    kind        text NOT NULL CHECK (kind IN ('SINGLE_USE', 'MULTI_USE')),
    max_uses    integer CHECK (max_uses > 0),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'MULTI_USE' OR max_uses = 1)
);
CREATE INDEX referral_code_customer ON referral_code (customer_id, created_at);

CREATE TABLE referral (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id    bigint NOT NULL REFERENCES program (id),
    -- UNIQUE: a customer has at most one referrer, set once.
    referee_id    bigint NOT NULL UNIQUE REFERENCES customer (id),
    referrer_id   bigint NOT NULL REFERENCES customer (id),
    code          text NOT NULL REFERENCES referral_code (code),
    channel       text NOT NULL,
    status        text NOT NULL CHECK (status IN ('ACTIVE', 'FLAGGED', 'REJECTED')),
    fraud_signals text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    reviewed_at   timestamptz,
    review_note   text,
    CHECK (referee_id <> referrer_id)
);
CREATE INDEX referral_referrer ON referral (referrer_id);
CREATE INDEX referral_code_time ON referral (code, created_at);

CREATE TABLE api_token (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    role       text NOT NULL CHECK (role IN ('ADMIN', 'PARTNER')),
    program_id bigint REFERENCES program (id),
    label      text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'PARTNER') = (program_id IS NOT NULL))
);
CREATE INDEX api_token_program ON api_token (program_id);

-- One row: the key that signs customer tokens, shared by every worker; made at first start.
CREATE TABLE signing_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key bytea NOT NULL CHECK (length(key) >= 32)
);

-- Every change to a program's referral graph, numbered by program.graph_version, so that
-- each worker's in-memory graph can replay what other workers committed.
CREATE TABLE graph_event (
    program_id bigint NOT NULL REFERENCES program (id),
    version    bigint NOT NULL,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    PRIMARY KEY (program_id, version)
);
