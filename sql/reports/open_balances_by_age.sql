-- Open balance per currency and days past due, as of a date.
-- A payment counts only if received on or before :as_of; written-off and void invoices are out.
WITH unsettled AS (
    -- Invoices not yet paid in full on :as_of (invoices.settled_on, migration 0007); used twice
    -- below, so invoices are read once.
    SELECT i.id, i.customer_id, i.currency, i.due_date, i.amount, i.first_paid_on
    FROM invoices i
    WHERE i.status IN ('open', 'paid') AND i.issue_date <= :as_of
      AND (i.settled_on IS NULL OR i.settled_on > :as_of)
      AND (CAST(:collector_id AS integer) IS NULL
           OR i.customer_id IN (SELECT c.id FROM customers c WHERE c.collector_id = CAST(:collector_id AS integer)))
),
paid AS (  -- payments received by :as_of, only for the invoices partly paid by then
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM unsettled u
    JOIN allocations a ON a.invoice_id = u.id
    JOIN payments p ON p.id = a.payment_id
    WHERE u.first_paid_on <= :as_of AND p.received_on <= :as_of
    GROUP BY a.invoice_id
),
balances AS (
    SELECT u.customer_id, u.currency, (:as_of - u.due_date) AS days_past_due,
           u.amount - coalesce(paid.amount, 0) AS open_balance
    FROM unsettled u
    LEFT JOIN paid ON paid.invoice_id = u.id
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
