-- Promises to pay made in the period, by who took them and through which channel: made, kept,
-- broken, still pending, cancelled, kept-rate = kept ÷ (kept + broken), and the amounts. The
-- channel: "portal" when the debtor made it there, "call" when a call with the outcome "promise
-- made" was logged for the customer that day, otherwise "recorded" (typed in by a collector).
SELECT pr.currency,
       coalesce(u.name, pr.actor) AS taken_by,
       CASE
           WHEN pr.actor LIKE 'portal%' OR pr.actor LIKE 'system:portal%' THEN 'portal'
           WHEN EXISTS (
               SELECT 1 FROM activities a
               WHERE a.customer_id = pr.customer_id AND a.kind = 'call' AND a.outcome = 'promise_made'
                 AND a.occurred_at::date = pr.made_on
           ) THEN 'call'
           ELSE 'recorded'
       END AS channel,
       count(*) AS made,
       count(*) FILTER (WHERE pr.status = 'kept') AS kept,
       count(*) FILTER (WHERE pr.status = 'broken') AS broken,
       count(*) FILTER (WHERE pr.status = 'pending') AS pending,
       count(*) FILTER (WHERE pr.status = 'cancelled') AS cancelled,
       round(count(*) FILTER (WHERE pr.status = 'kept')::numeric
             / nullif(count(*) FILTER (WHERE pr.status IN ('kept', 'broken')), 0) * 100, 1) AS kept_rate,
       sum(pr.amount) AS promised,
       coalesce(sum(pr.amount) FILTER (WHERE pr.status = 'kept'), 0) AS kept_amount
FROM promises pr
JOIN customers c ON c.id = pr.customer_id
LEFT JOIN users u ON u.username = pr.actor
WHERE pr.made_on BETWEEN :start AND :end
  AND (CAST(:currency AS text) IS NULL OR pr.currency = CAST(:currency AS text))
  AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
  AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
  AND (CAST(:collector_id AS integer) IS NULL OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
