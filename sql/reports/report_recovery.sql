-- Recovery: the invoices overdue at the start of the period (due before :start, something still
-- owed on them that day, counting payments received and credit notes made before it), and what
-- payments received from :start to :end collected on them. Per currency.
WITH due_before AS (
    -- Invoices due before :start and not paid in full by then (invoices.settled_on, migration
    -- 0007). Used twice below, so invoices are read once.
    SELECT i.id, i.currency, i.amount, i.first_paid_on, i.last_credited_on
    FROM invoices i
    JOIN customers c ON c.id = i.customer_id
    WHERE i.status IN ('open', 'paid')
      AND i.due_date < :start
      AND (i.settled_on IS NULL OR i.settled_on >= :start)
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL
           OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
),
payments_on AS (  -- for those paid something by the end: before the period, and during it
    SELECT a.invoice_id,
           coalesce(sum(a.amount) FILTER (WHERE p.received_on < :start), 0) AS before,
           coalesce(sum(a.amount) FILTER (WHERE p.received_on BETWEEN :start AND :end), 0) AS during
    FROM due_before d
    JOIN allocations a ON a.invoice_id = d.id
    JOIN payments p ON p.id = a.payment_id
    WHERE d.first_paid_on <= :end
    GROUP BY a.invoice_id
),
credited_before AS (  -- credit notes made before the period: no longer owed at its start (migration 0013)
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM due_before d
    JOIN allocations a ON a.invoice_id = d.id
    JOIN adjustments adj ON adj.id = a.adjustment_id
    WHERE d.last_credited_on IS NOT NULL AND adj.kind = 'credit_note' AND adj.made_on < :start
    GROUP BY a.invoice_id
),
cohort AS (
    SELECT d.currency, d.amount - coalesce(o.before, 0) - coalesce(cr.amount, 0) AS owed,
           coalesce(o.during, 0) AS collected
    FROM due_before d
    LEFT JOIN payments_on o ON o.invoice_id = d.id
    LEFT JOIN credited_before cr ON cr.invoice_id = d.id
)
SELECT currency,
       count(*) AS invoices,
       sum(owed) AS overdue_at_start,
       sum(least(collected, owed)) AS collected
FROM cohort
WHERE owed > 0
GROUP BY currency
ORDER BY currency
