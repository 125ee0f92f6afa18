-- Program.referrals and Program.rewards list newest first by (created_at, id), filtered by
-- status (and, for rewards, kind): one index per filter, so that every page is a backward
-- scan of the page's own entries, however long the program's history (the review queue of a
-- program with a million clean referrals reads only its FLAGGED ones).
CREATE INDEX referral_program_created ON referral (program_id, created_at, id);
CREATE INDEX referral_program_status ON referral (program_id, status, created_at, id);
-- (program_id) alone is a prefix of referral_program_created.
DROP INDEX referral_program;
CREATE INDEX reward_program_created ON reward (program_id, created_at, id);
CREATE INDEX reward_program_status ON reward (program_id, status, created_at, id);
CREATE INDEX reward_program_kind ON reward (program_id, kind, created_at, id);
