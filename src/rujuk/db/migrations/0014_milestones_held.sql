-- The milestone bonuses a customer holds (not REVERSED) are read with the graph at every
-- start-up (graph/reward_book.py): a partial index keeps that read off the whole ledger.
CREATE INDEX reward_milestone_held ON reward (program_id, beneficiary_id)
    WHERE kind = 'MILESTONE_BONUS' AND status <> 'REVERSED';
