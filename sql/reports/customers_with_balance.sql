-- Customers with an open balance, and those of them with something overdue, as of a date: from
-- aging_balances when its snapshot is for :as_of and :definition (see report_aging.sql), else
-- from the invoices. :collector_id 0: unassigned, as in every report.
-- There: invoices not yet paid in full on :as_of (invoices.settled_on, migration 0007), less those
-- whose payments and credit notes (migration 0013), all made by then, cover them. An invoice paid
-- or credited later still owed something on :as_of: nothing is allocated beyond an amount.
SELECT count(DISTINCT customer_id) AS with_balance,
       count(DISTINCT customer_id) FILTER (WHERE overdue) AS overdue
FROM (
    SELECT b.customer_id, b.total > b.current_amount AS overdue
    FROM aging_balances b
    WHERE b.day = :as_of
      AND EXISTS (SELECT 1 FROM aging_snapshot WHERE day = :as_of AND definition = :definition)
      AND (CAST(:collector_id AS integer) IS NULL
           OR b.customer_id IN (SELECT c.id FROM customers c
                                WHERE coalesce(c.collector_id, 0) = CAST(:collector_id AS integer)))
    UNION ALL
    SELECT i.customer_id, i.due_date < :as_of
    FROM invoices i
    WHERE NOT EXISTS (SELECT 1 FROM aging_snapshot WHERE day = :as_of AND definition = :definition)
      AND i.status IN ('open', 'paid') AND i.issue_date <= :as_of
      AND (i.settled_on IS NULL OR i.settled_on > :as_of)
      AND NOT coalesce(i.last_credited_on <= :as_of AND coalesce(i.last_paid_on <= :as_of, true)
                       AND i.paid_amount + i.credited_amount >= i.amount, false)
      AND (CAST(:collector_id AS integer) IS NULL
           OR i.customer_id IN (SELECT c.id FROM customers c
                                WHERE coalesce(c.collector_id, 0) = CAST(:collector_id AS integer)))
) open_accounts
