-- Recovery: the invoices overdue at the start of the period (due before :start, something still
-- owed on them that day, counting payments received before it), and what payments received from
-- :start to :end collected on them. Per currency.
WITH before AS (
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on < :start
    GROUP BY a.invoice_id
),
cohort AS (
    SELECT i.id, i.currency, i.amount - coalesce(before.amount, 0) AS owed
    FROM invoices i
    JOIN customers c ON c.id = i.customer_id
    LEFT JOIN before ON before.invoice_id = i.id
    WHERE i.status IN ('open', 'paid')
      AND i.due_date < :start
      AND i.amount - coalesce(before.amount, 0) > 0
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL
           OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
),
collected AS (
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on BETWEEN :start AND :end
    GROUP BY a.invoice_id
)
SELECT cohort.currency,
       count(*) AS invoices,
       sum(cohort.owed) AS overdue_at_start,
       coalesce(sum(least(coalesce(collected.amount, 0), cohort.owed)), 0) AS collected  -- LEAST skips NULLs
FROM cohort
LEFT JOIN collected ON collected.invoice_id = cohort.id
GROUP BY cohort.currency
ORDER BY cohort.currency
