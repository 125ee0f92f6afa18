-- A claim rewrites a delivery's lease and attempt count, columns no index holds: with room
-- left on the row's page PostgreSQL updates it in place (a HOT update) instead of writing a
-- new version elsewhere with an entry in each of the table's four indexes. Deliveries are
-- inserted in order, so their pages were full and no claim was in place.
ALTER TABLE webhook_delivery SET (fillfactor = 60);
