-- Each link carries its referee's spend (net of refunds), kept by the purchase and refund
-- statements: Program.stats counts qualified referrals by channel from one scan of the links.
ALTER TABLE referral ADD COLUMN referee_spend numeric NOT NULL DEFAULT 0;

UPDATE referral r SET referee_spend = s.total
FROM (SELECT customer_id, sum(amount - refunded_amount) AS total
      FROM purchase GROUP BY customer_id) s
WHERE s.customer_id = r.referee_id;
