-- Aging as of a date, one row per group and currency: open balance in each bucket (days past
-- due = as-of date − due date; current ≤ 0, 1–30, 31–60, 61–90, 91–180, 180+). A payment counts
-- only if received on or before :as_of; invoices issued after it do not exist yet; void and
-- written-off invoices are out. :group_by is customer, collector, segment or country; the
-- filters are NULL for "any" (:collector_id 0 means unassigned).
WITH paid AS (
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on <= :as_of
    GROUP BY a.invoice_id
),
owed AS (
    SELECT i.customer_id, i.currency, :as_of - i.due_date AS dpd, i.amount - coalesce(paid.amount, 0) AS open
    FROM invoices i
    LEFT JOIN paid ON paid.invoice_id = i.id
    WHERE i.status IN ('open', 'paid')
      AND i.issue_date <= :as_of
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
)
SELECT CASE CAST(:group_by AS text)
           WHEN 'customer' THEN c.id::text
           WHEN 'collector' THEN coalesce(c.collector_id::text, '0')
           WHEN 'segment' THEN coalesce(c.segment, '')
           ELSE c.country
       END AS group_key,
       min(CASE CAST(:group_by AS text)
           WHEN 'customer' THEN c.name
           WHEN 'collector' THEN coalesce(u.name, 'Unassigned')
           WHEN 'segment' THEN coalesce(c.segment, 'No segment')
           ELSE c.country
       END) AS label,
       o.currency,
       coalesce(sum(o.open) FILTER (WHERE o.dpd <= 0), 0) AS "current",
       coalesce(sum(o.open) FILTER (WHERE o.dpd BETWEEN 1 AND 30), 0) AS "1-30",
       coalesce(sum(o.open) FILTER (WHERE o.dpd BETWEEN 31 AND 60), 0) AS "31-60",
       coalesce(sum(o.open) FILTER (WHERE o.dpd BETWEEN 61 AND 90), 0) AS "61-90",
       coalesce(sum(o.open) FILTER (WHERE o.dpd BETWEEN 91 AND 180), 0) AS "91-180",
       coalesce(sum(o.open) FILTER (WHERE o.dpd > 180), 0) AS "180+",
       sum(o.open) AS total,
       coalesce(sum(o.open) FILTER (WHERE o.dpd > 0), 0) AS overdue,
       count(*) AS invoices,
       count(DISTINCT o.customer_id) AS customers
FROM owed o
JOIN customers c ON c.id = o.customer_id
LEFT JOIN users u ON u.id = c.collector_id
WHERE o.open > 0
  AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
  AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
  AND (CAST(:collector_id AS integer) IS NULL
       OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
GROUP BY 1, o.currency
ORDER BY o.currency, total DESC, label
