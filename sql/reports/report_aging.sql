-- Aging as of a date, one row per group and currency: open balance in each bucket (days past
-- due = as-of date − due date; current ≤ 0, 1–30, 31–60, 61–90, 91–180, 180+). A payment counts
-- only if received on or before :as_of; invoices issued after it do not exist yet; void and
-- written-off invoices are out. :group_by is customer, collector, segment or country; the
-- filters are NULL for "any" (:collector_id 0 means unassigned).
WITH unsettled AS (
    -- Invoices not yet paid in full on :as_of (invoices.settled_on, kept by migration 0007's
    -- triggers). Used twice below, so PostgreSQL reads invoices once and keeps the rows.
    SELECT i.id, i.customer_id, i.currency, i.due_date, i.amount, i.first_paid_on
    FROM invoices i
    WHERE i.status IN ('open', 'paid')
      AND i.issue_date <= :as_of
      AND (i.settled_on IS NULL OR i.settled_on > :as_of)
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
),
paid AS (  -- payments received by :as_of, only for the invoices partly paid by then
    SELECT a.invoice_id, sum(a.amount) AS amount
    FROM unsettled u
    JOIN allocations a ON a.invoice_id = u.id
    JOIN payments p ON p.id = a.payment_id
    WHERE u.first_paid_on <= :as_of AND p.received_on <= :as_of
    GROUP BY a.invoice_id
),
owed AS (
    SELECT u.customer_id, u.currency, :as_of - u.due_date AS dpd, u.amount - coalesce(paid.amount, 0) AS open
    FROM unsettled u
    LEFT JOIN paid ON paid.invoice_id = u.id
),
per_customer AS (  -- aggregated per customer first: the customer joins below see 100k rows, not 1M
    SELECT customer_id, currency,
           sum(open) FILTER (WHERE dpd <= 0) AS b0,
           sum(open) FILTER (WHERE dpd BETWEEN 1 AND 30) AS b1,
           sum(open) FILTER (WHERE dpd BETWEEN 31 AND 60) AS b2,
           sum(open) FILTER (WHERE dpd BETWEEN 61 AND 90) AS b3,
           sum(open) FILTER (WHERE dpd BETWEEN 91 AND 180) AS b4,
           sum(open) FILTER (WHERE dpd > 180) AS b5,
           count(*) AS invoices
    FROM owed
    WHERE open > 0
    GROUP BY customer_id, currency
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
       pc.currency,
       coalesce(sum(pc.b0), 0) AS "current",
       coalesce(sum(pc.b1), 0) AS "1-30",
       coalesce(sum(pc.b2), 0) AS "31-60",
       coalesce(sum(pc.b3), 0) AS "61-90",
       coalesce(sum(pc.b4), 0) AS "91-180",
       coalesce(sum(pc.b5), 0) AS "180+",
       sum(coalesce(pc.b0, 0) + coalesce(pc.b1, 0) + coalesce(pc.b2, 0) + coalesce(pc.b3, 0) + coalesce(pc.b4, 0)
           + coalesce(pc.b5, 0)) AS total,
       sum(coalesce(pc.b1, 0) + coalesce(pc.b2, 0) + coalesce(pc.b3, 0) + coalesce(pc.b4, 0)
           + coalesce(pc.b5, 0)) AS overdue,
       sum(pc.invoices) AS invoices,
       count(DISTINCT pc.customer_id) AS customers
FROM per_customer pc
JOIN customers c ON c.id = pc.customer_id
LEFT JOIN users u ON u.id = c.collector_id
WHERE (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
  AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
  AND (CAST(:collector_id AS integer) IS NULL
       OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
GROUP BY 1, pc.currency
ORDER BY pc.currency, total DESC, label
