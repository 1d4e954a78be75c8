-- Open disputes by reason and age (days since opened, as of :as_of): how many, and what the
-- disputed invoices still owe, per currency.
WITH open_disputes AS (
    SELECT d.category, i.currency, :as_of - d.opened_at::date AS age,
           i.amount - coalesce((SELECT sum(a.amount) FROM allocations a WHERE a.invoice_id = i.id), 0) AS owed
    FROM disputes d
    JOIN invoices i ON i.id = d.invoice_id
    JOIN customers c ON c.id = d.customer_id
    WHERE d.resolution IS NULL
      AND d.opened_at::date <= :as_of
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
)
SELECT currency,
       category,
       CASE WHEN age <= 7 THEN '0-7 days' WHEN age <= 30 THEN '8-30 days'
            WHEN age <= 60 THEN '31-60 days' ELSE '60+ days' END AS age,
       count(*) AS disputes,
       sum(owed) AS owed,
       max(age) AS oldest_days
FROM open_disputes
GROUP BY 1, 2, 3
ORDER BY 1, 2, min(age)
