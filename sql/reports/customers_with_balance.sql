-- Customers with an open balance, and those of them with something overdue, as of a date.
-- Invoices not yet paid in full on :as_of (invoices.settled_on, migration 0007).
SELECT count(DISTINCT i.customer_id) AS with_balance,
       count(DISTINCT i.customer_id) FILTER (WHERE i.due_date < :as_of) AS overdue
FROM invoices i
WHERE i.status IN ('open', 'paid') AND i.issue_date <= :as_of
  AND (i.settled_on IS NULL OR i.settled_on > :as_of)
  AND (CAST(:collector_id AS integer) IS NULL
       OR i.customer_id IN (SELECT c.id FROM customers c WHERE c.collector_id = CAST(:collector_id AS integer)))
