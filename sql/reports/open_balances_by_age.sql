-- Open balance per currency and days past due, as of a date.
-- A payment counts only if received on or before :as_of; written-off and void invoices are out.
WITH paid AS (
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on <= :as_of
    GROUP BY a.invoice_id
),
balances AS (
    SELECT i.customer_id,
           i.currency,
           (:as_of - i.due_date) AS days_past_due,
           i.amount - coalesce(paid.amount, 0) AS open_balance
    FROM invoices i
    LEFT JOIN paid ON paid.invoice_id = i.id
    WHERE i.status IN ('open', 'paid') AND i.issue_date <= :as_of
      AND (CAST(:collector_id AS integer) IS NULL
           OR i.customer_id IN (SELECT c.id FROM customers c WHERE c.collector_id = CAST(:collector_id AS integer)))
)
SELECT currency,
       days_past_due,
       count(*) AS invoices,
       count(DISTINCT customer_id) AS customers,
       sum(open_balance) AS open_balance
FROM balances
WHERE open_balance > 0
GROUP BY currency, days_past_due
ORDER BY currency, days_past_due
