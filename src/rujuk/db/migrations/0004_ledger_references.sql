-- The ledger's references are kept by what writes them and by refusing deletes, not by
-- foreign-key checks on every insert.
--
-- Checked, a purchase cost PostgreSQL two foreign-key checks and each of its rewards four
-- (a query each, with a FOR KEY SHARE lock that dirties the customer's page and, after a
-- checkpoint, logs it whole): 0.29 ms of PostgreSQL's CPU per purchase against 0.16 ms
-- without. And each check's plan, cached while its table was small, went on scanning the
-- whole table as it grew, until autovacuum's next ANALYZE: after a fresh start
-- recordPurchase slowed down for a minute, to 60 purchases/s. What the checks
-- guarded is guaranteed otherwise:
-- - rewards and entries are inserted by the statement that inserts their purchase and
--   rewards (db/purchases.py), joined to the rows it returns;
-- - customers, programs and purchases come from rows read from this database, and no row
--   a ledger refers to is ever deleted: erasure anonymises in place, and the triggers
--   below refuse DELETE and TRUNCATE on those tables.
ALTER TABLE purchase
    DROP CONSTRAINT purchase_program_id_fkey,
    DROP CONSTRAINT purchase_customer_id_fkey;
ALTER TABLE reward
    DROP CONSTRAINT reward_program_id_fkey,
    DROP CONSTRAINT reward_purchase_id_fkey,
    DROP CONSTRAINT reward_beneficiary_id_fkey;
ALTER TABLE reward_entry
    DROP CONSTRAINT reward_entry_reward_id_fkey;

CREATE FUNCTION refuse_ledger_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never deleted: the reward ledger refers to them',
        TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'erase a customer''s personal data with eraseCustomer instead';
END;
$$;

CREATE TRIGGER program_kept BEFORE DELETE OR TRUNCATE ON program
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
CREATE TRIGGER customer_kept BEFORE DELETE OR TRUNCATE ON customer
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
CREATE TRIGGER purchase_kept BEFORE DELETE OR TRUNCATE ON purchase
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
CREATE TRIGGER reward_kept BEFORE DELETE OR TRUNCATE ON reward
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
CREATE TRIGGER reward_entry_kept BEFORE DELETE OR TRUNCATE ON reward_entry
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_delete();
