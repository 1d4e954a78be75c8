-- Month by month, per currency (:currency NULL: each one): receivables at each month end (what
-- was owed), the current part of them (not yet due on that day), credit sales (invoiced in the
-- month) and cash collected (payments received in the month, as allocated to invoices). Void and
-- written-off invoices are out; a payment counts from the day it was received.
--
-- One pass over invoices and one over allocations, as events at month ends, added up per month as
-- they are read (never a row per event): an invoice owes its
-- amount from the end of the month it was issued in, and is current from then until the first
-- month end after its due date; a payment reduces what is owed from the end of the month it was
-- received in, and, if it came before the due date, what is current until then. Cumulative sums
-- of the events give each month end's figures. :first_month and :last_month are first days.
WITH inv AS NOT MATERIALIZED (
    -- Customers are read only when a filter needs them: without one, planning drops the EXISTS.
    SELECT i.id, i.currency, i.issue_date, i.due_date, i.amount
    FROM invoices i
    WHERE (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
      AND i.status IN ('open', 'paid')
      AND ((CAST(:country AS text) IS NULL AND CAST(:segment AS text) IS NULL
            AND CAST(:collector_id AS integer) IS NULL)
           OR EXISTS (
               SELECT 1 FROM customers c
               WHERE c.id = i.customer_id
                 AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
                 AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
                 AND (CAST(:collector_id AS integer) IS NULL
                      OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))))
),
invoiced AS (  -- one pass over invoices: amounts by the month issued and the month they fell due
    SELECT currency, date_trunc('month', issue_date::timestamp)::date AS issued_in,
           date_trunc('month', (due_date + 1)::timestamp)::date AS due_in, sum(amount) AS amount
    FROM inv
    GROUP BY 1, 2, 3
),
paid AS (  -- one pass over allocations: by the month received, whether before the due date (early),
           -- and the month the invoice fell due
    SELECT inv.currency, date_trunc('month', p.received_on::timestamp)::date AS received_in,
           date_trunc('month', (inv.due_date + 1)::timestamp)::date AS due_in,
           p.received_on <= inv.due_date AS early, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    JOIN inv ON inv.id = a.invoice_id
    GROUP BY 1, 2, 3, 4
),
by_month AS (  -- the events at month ends, added up (each group above gives one or two events)
    SELECT e.currency, e.month,
           sum(e.owed) AS owed, sum(e.current_part) AS current_part, sum(e.sales) AS sales,
           sum(e.collected) AS collected
    FROM (
        SELECT i.currency, v.*
        FROM invoiced i
        CROSS JOIN LATERAL (VALUES (i.issued_in, i.amount, i.amount, i.amount, 0),
                                   (i.due_in, 0, -i.amount, 0, 0)) AS v (month, owed, current_part, sales, collected)
        UNION ALL
        SELECT p.currency, v.*
        FROM paid p
        CROSS JOIN LATERAL (VALUES (p.received_in, -p.amount, CASE WHEN p.early THEN -p.amount ELSE 0 END, 0, p.amount),
                                   (p.due_in, 0, CASE WHEN p.early THEN p.amount ELSE 0 END, 0, 0))
            AS v (month, owed, current_part, sales, collected)
    ) e
    GROUP BY 1, 2
),
running AS (  -- what is owed and current at each month end: every event up to it, added up
    SELECT currency, month, sales, collected,
           sum(owed) OVER (PARTITION BY currency ORDER BY month) AS receivables,
           sum(current_part) OVER (PARTITION BY currency ORDER BY month) AS current_receivables
    FROM by_month
),
months AS (
    SELECT b.currency, m.month::date AS month
    FROM (SELECT DISTINCT currency FROM by_month) b
    CROSS JOIN generate_series(CAST(:first_month AS date), CAST(:last_month AS date), interval '1 month') AS m(month)
)
SELECT m.currency,
       m.month,
       (m.month + interval '1 month - 1 day')::date AS month_end,
       coalesce(latest.receivables, 0) AS receivables,
       coalesce(latest.current_receivables, 0) AS current_receivables,
       coalesce(this.sales, 0) AS credit_sales,
       coalesce(this.collected, 0) AS collected
FROM months m
LEFT JOIN running this ON this.currency = m.currency AND this.month = m.month
LEFT JOIN LATERAL (
    SELECT r.receivables, r.current_receivables
    FROM running r
    WHERE r.currency = m.currency AND r.month <= m.month
    ORDER BY r.month DESC
    LIMIT 1
) latest ON true
ORDER BY m.currency, m.month
