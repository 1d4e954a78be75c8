-- Cash expected in the 13 weeks from the week of :as_of: instalments of current and late plans
-- still unpaid (a plan's payments fill its instalments in date order), and pending promises,
-- each by the week it falls due — and weighted by the customer's own kept-rate (promises kept ÷
-- kept and broken; the book's when the customer has none yet, and 1 when the book has none).
WITH book_rate AS (
    SELECT coalesce(count(*) FILTER (WHERE status = 'kept')::numeric
                    / nullif(count(*) FILTER (WHERE status IN ('kept', 'broken')), 0), 1) AS rate
    FROM promises
),
customer_rate AS (
    SELECT customer_id,
           count(*) FILTER (WHERE status = 'kept')::numeric
               / nullif(count(*) FILTER (WHERE status IN ('kept', 'broken')), 0) AS rate
    FROM promises
    GROUP BY customer_id
),
instalments AS (
    SELECT pl.customer_id, pl.currency, ins.due_on,
           ins.amount - greatest(0, least(ins.amount,
               pl.paid_amount - (sum(ins.amount) OVER (PARTITION BY pl.id ORDER BY ins.due_on, ins.id) - ins.amount)))
               AS unpaid
    FROM payment_plans pl
    JOIN plan_instalments ins ON ins.plan_id = pl.id
    WHERE pl.status IN ('current', 'late')
),
expected AS (
    SELECT customer_id, currency, due_on, unpaid AS amount, 'plan instalments' AS source
    FROM instalments WHERE unpaid > 0
    UNION ALL
    SELECT customer_id, currency, due_on, amount, 'promises'
    FROM promises WHERE status = 'pending'
),
weeks AS (
    SELECT generate_series(0, 12) AS n
)
SELECT e.currency,
       (date_trunc('week', CAST(:as_of AS date)) + make_interval(weeks => w.n))::date AS week,
       e.source,
       count(*) AS items,
       sum(e.amount) AS amount,
       round(sum(e.amount * coalesce(cr.rate, br.rate)), 2) AS weighted
FROM weeks w
JOIN expected e
  ON date_trunc('week', greatest(e.due_on, CAST(:as_of AS date))) = date_trunc('week', CAST(:as_of AS date)) + make_interval(weeks => w.n)
JOIN customers c ON c.id = e.customer_id
LEFT JOIN customer_rate cr ON cr.customer_id = e.customer_id
CROSS JOIN book_rate br
WHERE (CAST(:currency AS text) IS NULL OR e.currency = CAST(:currency AS text))
  AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
  AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
  AND (CAST(:collector_id AS integer) IS NULL OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
