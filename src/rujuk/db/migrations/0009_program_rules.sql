-- Contract v2's program rules, their versions, and what a purchase keeps of them.
--
-- The program row holds the rules in force, one column per rule: each gets a CHECK of its
-- own, the existing readers keep working, and a worker loads every program with one query.
-- program_rules keeps every version's rules whole (one JSON document, decimals as written)
-- beside it, the current one included: a purchase is refunded under its own version, and
-- a version's rules must stay readable however often the program changes after it.

ALTER TABLE program
    ADD COLUMN rules_version              integer NOT NULL DEFAULT 1 CHECK (rules_version >= 1),
    ADD COLUMN active                     boolean NOT NULL DEFAULT true,
    ADD COLUMN time_zone                  text NOT NULL DEFAULT 'Asia/Jakarta'
        CHECK (length(time_zone) BETWEEN 1 AND 100),
    ADD COLUMN min_purchase_amount        numeric NOT NULL DEFAULT 0
        CHECK (min_purchase_amount >= 0),
    ADD COLUMN commission_window_days     integer CHECK (commission_window_days >= 1),
    ADD COLUMN commission_purchase_limit  integer CHECK (commission_purchase_limit >= 1),
    ADD COLUMN monthly_cap_per_referrer   numeric CHECK (monthly_cap_per_referrer >= 0),
    ADD COLUMN milestones                 jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(milestones) = 'array'),
    ADD COLUMN blocked_email_domains      text[] NOT NULL DEFAULT '{}'
        CHECK (array_to_string(blocked_email_domains, ' ')
               = lower(array_to_string(blocked_email_domains, ' '))),
    ADD COLUMN max_signups_per_ip_per_day integer NOT NULL DEFAULT 10
        CHECK (max_signups_per_ip_per_day >= 1);

-- Version 1's tiers had no flat amounts: every tier gets its (empty) list, so that the
-- stored rules have one shape whatever version wrote them.
UPDATE program SET tiers = (
    SELECT coalesce(
        jsonb_agg(t || jsonb_build_object('levelAmounts', coalesce(t -> 'levelAmounts', '[]'))
                  ORDER BY position),
        '[]')
    FROM jsonb_array_elements(tiers) WITH ORDINALITY AS e(t, position));

CREATE TABLE program_rules (
    program_id bigint NOT NULL REFERENCES program (id),
    version    integer NOT NULL CHECK (version >= 1),
    -- The document db/programs.py writes (rules_to_json): every field of the version.
    rules      jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, version)
);

INSERT INTO program_rules (program_id, version, rules, created_at)
SELECT id, 1,
       jsonb_build_object(
           'name', name,
           'currency', currency::text,
           'active', active,
           'tiers', tiers,
           'maxPayoutRate', max_payout_rate::text,
           'refereeReward', referee_reward::text,
           'holdDays', hold_days,
           'compression', compression,
           'timeZone', time_zone,
           'minPurchaseAmount', min_purchase_amount::text,
           'commissionWindowDays', commission_window_days,
           'commissionPurchaseLimit', commission_purchase_limit,
           'monthlyCapPerReferrer', monthly_cap_per_referrer::text,
           'milestones', milestones,
           'blockedEmailDomains', to_jsonb(blocked_email_domains),
           'maxSignupsPerIpPerDay', max_signups_per_ip_per_day),
       created_at
FROM program;

CREATE FUNCTION refuse_rules_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the rules of a program version never change'
        USING ERRCODE = 'restrict_violation',
              HINT = 'updateProgram stores the new rules as the next version';
END;
$$;

CREATE TRIGGER program_rules_kept BEFORE DELETE OR TRUNCATE ON program_rules
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
CREATE TRIGGER program_rules_frozen BEFORE UPDATE ON program_rules
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rules_change();

-- What a purchase was priced under. Existing purchases were priced by version 1 and paid
-- when eligible (version 1 had no pause and no minimum). The defaults go once the rows
-- have them: every insert states both, so none is priced under a version it forgot to say.
ALTER TABLE purchase
    ADD COLUMN rules_version integer NOT NULL DEFAULT 1 CHECK (rules_version >= 1),
    ADD COLUMN eligible      boolean NOT NULL DEFAULT true;
ALTER TABLE purchase
    ALTER COLUMN rules_version DROP DEFAULT,
    ALTER COLUMN eligible DROP DEFAULT;

-- Milestone bonuses: level 0 like the welcome reward, and the threshold they were paid for.
ALTER TABLE reward ADD COLUMN milestone integer CHECK (milestone >= 1);

DO $$
DECLARE
    found record;
BEGIN
    -- The kind CHECK and the welcome-reward level CHECK of 0002, whatever PostgreSQL named them.
    FOR found IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'reward'::regclass AND contype = 'c'
          AND pg_get_constraintdef(oid) LIKE '%REFEREE_WELCOME%'
    LOOP
        EXECUTE format('ALTER TABLE reward DROP CONSTRAINT %I', found.conname);
    END LOOP;
END;
$$;

ALTER TABLE reward
    ADD CONSTRAINT reward_kind_check
        CHECK (kind IN ('REFERRER_COMMISSION', 'REFEREE_WELCOME', 'MILESTONE_BONUS')),
    ADD CONSTRAINT reward_level_check_kind CHECK ((kind = 'REFERRER_COMMISSION') = (level >= 1)),
    ADD CONSTRAINT reward_milestone_check_kind
        CHECK ((kind = 'MILESTONE_BONUS') = (milestone IS NOT NULL));
