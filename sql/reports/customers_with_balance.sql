-- Customers with an open balance, and those of them with something overdue, as of a date.
WITH paid AS (
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on <= :as_of
    GROUP BY a.invoice_id
)
SELECT count(DISTINCT i.customer_id) AS with_balance,
       count(DISTINCT i.customer_id) FILTER (WHERE i.due_date < :as_of) AS overdue
FROM invoices i
LEFT JOIN paid ON paid.invoice_id = i.id
WHERE i.status IN ('open', 'paid') AND i.issue_date <= :as_of
  AND i.amount - coalesce(paid.amount, 0) > 0
  AND (CAST(:collector_id AS integer) IS NULL
       OR i.customer_id IN (SELECT c.id FROM customers c WHERE c.collector_id = CAST(:collector_id AS integer)))
