-- Month by month, in one currency: receivables at each month end (what was owed), the current
-- part of them (not yet due on that day), credit sales (invoiced in the month) and cash
-- collected (payments received in the month, as allocated to invoices). Void and written-off
-- invoices are out; a payment counts from the day it was received.
--
-- One pass over invoices and one over allocations, as events at month ends: an invoice owes its
-- amount from the end of the month it was issued in, and is current from then until the first
-- month end after its due date; a payment reduces what is owed from the end of the month it was
-- received in, and, if it came before the due date, what is current until then. Cumulative sums
-- of the events give each month end's figures. :first_month and :last_month are first days.
WITH inv AS (
    SELECT i.id, i.issue_date, i.due_date, i.amount
    FROM invoices i
    JOIN customers c ON c.id = i.customer_id
    WHERE i.currency = :currency
      AND i.status IN ('open', 'paid')
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL
           OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
),
paid AS (
    SELECT inv.due_date, p.received_on, a.amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    JOIN inv ON inv.id = a.invoice_id
),
events (day, owed, current_part, sales, collected) AS (
    SELECT issue_date, amount, amount, amount, 0 FROM inv
    UNION ALL
    SELECT due_date + 1, 0, -amount, 0, 0 FROM inv
    UNION ALL
    SELECT received_on, -amount, CASE WHEN received_on <= due_date THEN -amount ELSE 0 END, 0, amount FROM paid
    UNION ALL
    SELECT due_date + 1, 0, amount, 0, 0 FROM paid WHERE received_on <= due_date
),
by_month AS (
    SELECT date_trunc('month', day)::date AS month,
           sum(owed) AS owed, sum(current_part) AS current_part, sum(sales) AS sales, sum(collected) AS collected
    FROM events
    GROUP BY 1
),
months AS (
    SELECT generate_series(CAST(:first_month AS date), CAST(:last_month AS date), interval '1 month')::date AS month
)
SELECT m.month,
       (m.month + interval '1 month - 1 day')::date AS month_end,
       (SELECT coalesce(sum(b.owed), 0) FROM by_month b WHERE b.month <= m.month) AS receivables,
       (SELECT coalesce(sum(b.current_part), 0) FROM by_month b WHERE b.month <= m.month) AS current_receivables,
       coalesce((SELECT b.sales FROM by_month b WHERE b.month = m.month), 0) AS credit_sales,
       coalesce((SELECT b.collected FROM by_month b WHERE b.month = m.month), 0) AS collected
FROM months m
ORDER BY m.month
