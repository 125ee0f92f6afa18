-- A delivery is claimed (leased_until and attempts set: no indexed column changes) before
-- it is attempted. With full pages that update could not stay on the row's page, so each
-- claim wrote a new entry into every index of the table (11 % of updates were HOT under
-- the webhook bench). Room left in each page lets a claim update the row in place.
ALTER TABLE webhook_delivery SET (fillfactor = 60);
