-- Month by month, per currency (:currency NULL: each one): receivables at each month end (what
-- was owed), the current part of them (not yet due on that day), credit sales (invoiced in the
-- month), cash collected (payments received in the month, as allocated to invoices) and credit
-- notes made in the month (credited). Void and
-- written-off invoices are out; a payment counts from the day it was received, a credit note from
-- the day it was made (it lowers what is owed, and collects nothing).
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
credit_notes AS MATERIALIZED (  -- few, and read first: the invoices are then looked up by id
    SELECT a.invoice_id, d.made_on, a.amount
    FROM adjustments d
    JOIN allocations a ON a.adjustment_id = d.id
    WHERE d.kind = 'credit_note'
),
credited AS (  -- credit notes (migration 0013) take an amount off what is owed like a payment
               -- received on the day they were made, but collect nothing
    SELECT inv.currency, date_trunc('month', cn.made_on::timestamp)::date AS made_in,
           date_trunc('month', (inv.due_date + 1)::timestamp)::date AS due_in,
           cn.made_on <= inv.due_date AS early, sum(cn.amount) AS amount
    FROM credit_notes cn
    CROSS JOIN LATERAL (SELECT * FROM inv WHERE inv.id = cn.invoice_id OFFSET 0) inv  -- a lookup each
    GROUP BY 1, 2, 3, 4
),
by_month AS (  -- the events at month ends, added up (each group above gives one or two events)
    SELECT e.currency, e.month,
           sum(e.owed) AS owed, sum(e.current_part) AS current_part, sum(e.sales) AS sales,
           sum(e.collected) AS collected, sum(e.credited) AS credited
    FROM (
        SELECT i.currency, v.*
        FROM invoiced i
        CROSS JOIN LATERAL (VALUES (i.issued_in, i.amount, i.amount, i.amount, 0, 0),
                                   (i.due_in, 0, -i.amount, 0, 0, 0))
            AS v (month, owed, current_part, sales, collected, credited)
        UNION ALL
        SELECT p.currency, v.*
        FROM paid p
        CROSS JOIN LATERAL (VALUES (p.received_in, -p.amount, CASE WHEN p.early THEN -p.amount ELSE 0 END, 0, p.amount, 0),
                                   (p.due_in, 0, CASE WHEN p.early THEN p.amount ELSE 0 END, 0, 0, 0))
            AS v (month, owed, current_part, sales, collected, credited)
        UNION ALL
        SELECT c.currency, v.*
        FROM credited c
        CROSS JOIN LATERAL (VALUES (c.made_in, -c.amount, CASE WHEN c.early THEN -c.amount ELSE 0 END, 0, 0, c.amount),
                                   (c.due_in, 0, CASE WHEN c.early THEN c.amount ELSE 0 END, 0, 0, 0))
            AS v (month, owed, current_part, sales, collected, credited)
    ) e
    GROUP BY 1, 2
),
running AS (  -- what is owed and current at each month end: every event up to it, added up
    SELECT currency, month, sales, collected, credited,
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
       coalesce(this.collected, 0) AS collected,
       coalesce(this.credited, 0) AS credited
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
