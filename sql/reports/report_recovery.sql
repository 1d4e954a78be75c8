-- Recovery: the invoices overdue at the start of the period (due before :start, something still
-- owed on them that day, counting payments received before it), and what payments received from
-- :start to :end collected on them. Per currency.
WITH cohort AS (
    -- Invoices due before :start and not paid in full by then (invoices.settled_on, migration
    -- 0007): what each still owed that day, and what payments received in the period brought in.
    SELECT i.id, i.currency,
           i.amount - CASE WHEN i.first_paid_on < :start THEN coalesce((
               SELECT sum(a.amount) FROM allocations a JOIN payments p ON p.id = a.payment_id
               WHERE a.invoice_id = i.id AND p.received_on < :start), 0) ELSE 0 END AS owed,
           CASE WHEN i.first_paid_on <= :end THEN coalesce((
               SELECT sum(a.amount) FROM allocations a JOIN payments p ON p.id = a.payment_id
               WHERE a.invoice_id = i.id AND p.received_on BETWEEN :start AND :end), 0) ELSE 0 END AS collected
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
)
SELECT currency,
       count(*) AS invoices,
       sum(owed) AS overdue_at_start,
       sum(least(collected, owed)) AS collected
FROM cohort
WHERE owed > 0
GROUP BY currency
ORDER BY currency
