-- Aging as of a date, one row per group and currency: open balance in each bucket (days past
-- due = as-of date − due date; current ≤ 0, 1–30, 31–60, 61–90, 91–180, 180+). A payment counts
-- only if received on or before :as_of; invoices issued after it do not exist yet; void and
-- written-off invoices are out. :group_by is customer, collector, segment or country; the
-- filters are NULL for "any" (:collector_id 0 means unassigned).
--
-- kind 'group' rows, largest first in each currency: with :shown set, only the :shown largest
-- (what a page draws); NULL for all of them. kind 'total' rows: each currency's whole
-- book whatever :shown is, and how many groups it has.
WITH owed AS (
    -- What was unpaid on :as_of, invoice by invoice, in customer order. Not yet paid in full
    -- then: never settled (read from ix_invoices_unsettled alone), or settled after :as_of.
    -- paid_amount and last_paid_on are kept by migration 0009's trigger: on or after the last
    -- payment day the covered amount is paid_amount; only an invoice part-paid across :as_of
    -- sums its allocations.
    SELECT i.customer_id, i.currency, :as_of - i.due_date AS dpd,
           i.amount - CASE
               WHEN i.first_paid_on IS NULL OR i.first_paid_on > :as_of THEN 0
               WHEN i.last_paid_on <= :as_of THEN i.paid_amount
               ELSE (SELECT coalesce(sum(a.amount), 0)
                     FROM allocations a JOIN payments p ON p.id = a.payment_id
                     WHERE a.invoice_id = i.id AND p.received_on <= :as_of)
           END AS open
    FROM invoices i
    WHERE i.settled_on IS NULL AND i.status IN ('open', 'paid') AND i.issue_date <= :as_of
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
    UNION ALL
    SELECT i.customer_id, i.currency, :as_of - i.due_date,
           i.amount - CASE
               WHEN i.first_paid_on IS NULL OR i.first_paid_on > :as_of THEN 0
               WHEN i.last_paid_on <= :as_of THEN i.paid_amount
               ELSE (SELECT coalesce(sum(a.amount), 0)
                     FROM allocations a JOIN payments p ON p.id = a.payment_id
                     WHERE a.invoice_id = i.id AND p.received_on <= :as_of)
           END
    FROM invoices i
    WHERE i.settled_on > :as_of AND i.status IN ('open', 'paid') AND i.issue_date <= :as_of
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
),
per_customer AS (  -- aggregated per customer first: what follows sees 100k rows, not 1M
    SELECT customer_id, currency,
           coalesce(sum(open) FILTER (WHERE dpd <= 0), 0) AS b0,
           coalesce(sum(open) FILTER (WHERE dpd BETWEEN 1 AND 30), 0) AS b1,
           coalesce(sum(open) FILTER (WHERE dpd BETWEEN 31 AND 60), 0) AS b2,
           coalesce(sum(open) FILTER (WHERE dpd BETWEEN 61 AND 90), 0) AS b3,
           coalesce(sum(open) FILTER (WHERE dpd BETWEEN 91 AND 180), 0) AS b4,
           coalesce(sum(open) FILTER (WHERE dpd > 180), 0) AS b5,
           sum(open) AS total,
           count(*) AS invoices
    FROM owed o  -- open > 0 always: not settled means payments covered less than the amount
    -- Customers are read here only when a filter needs them: without one, planning drops the EXISTS.
    WHERE (CAST(:country AS text) IS NULL AND CAST(:segment AS text) IS NULL
           AND CAST(:collector_id AS integer) IS NULL)
       OR EXISTS (
           SELECT 1 FROM customers c
           WHERE c.id = o.customer_id
             AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
             AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
             AND (CAST(:collector_id AS integer) IS NULL
                  OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer)))
    GROUP BY customer_id, currency
),
grouped AS MATERIALIZED (
    -- By customer the rows are already one per group (named below, for the rows shown only); any
    -- other grouping adds them up. Only one branch runs: :group_by is a bound value the planner sees.
    SELECT customer_id::text AS group_key, NULL AS label, currency, b0, b1, b2, b3, b4, b5, total,
           invoices, 1 AS customers
    FROM per_customer
    WHERE CAST(:group_by AS text) = 'customer'
    UNION ALL
    SELECT CASE CAST(:group_by AS text)
               WHEN 'collector' THEN coalesce(c.collector_id::text, '0')
               WHEN 'segment' THEN coalesce(c.segment, '')
               ELSE c.country
           END,
           min(CASE CAST(:group_by AS text)
               WHEN 'collector' THEN coalesce(u.name, 'Unassigned')
               WHEN 'segment' THEN coalesce(c.segment, 'No segment')
               ELSE c.country
           END),
           pc.currency,
           sum(pc.b0), sum(pc.b1), sum(pc.b2), sum(pc.b3), sum(pc.b4), sum(pc.b5), sum(pc.total),
           sum(pc.invoices), count(*)
    FROM per_customer pc
    JOIN customers c ON c.id = pc.customer_id
    LEFT JOIN users u ON u.id = c.collector_id
    WHERE CAST(:group_by AS text) <> 'customer'
    GROUP BY 1, pc.currency
),
currencies AS (
    SELECT DISTINCT currency FROM grouped
)
SELECT 'group' AS kind, top.group_key, coalesce(top.label, named.name) AS label, cur.currency,
       top.b0 AS "current", top.b1 AS "1-30", top.b2 AS "31-60", top.b3 AS "61-90", top.b4 AS "91-180",
       top.b5 AS "180+", top.total, top.total - top.b0 AS overdue, top.invoices, top.customers, NULL AS groups
FROM currencies cur
CROSS JOIN LATERAL (  -- each currency's largest first, only as many as shown: no sort of every group
    SELECT g.* FROM grouped g
    WHERE g.currency = cur.currency
    ORDER BY g.total DESC, g.group_key
    LIMIT CAST(:shown AS integer)
) top
LEFT JOIN customers named
       ON named.id = CASE WHEN CAST(:group_by AS text) = 'customer' THEN CAST(top.group_key AS integer) END
UNION ALL
SELECT 'total', NULL, NULL, currency,
       sum(b0), sum(b1), sum(b2), sum(b3), sum(b4), sum(b5),
       sum(total), sum(total - b0), sum(invoices), sum(customers), count(*)
FROM grouped
GROUP BY currency
ORDER BY kind DESC, currency, total DESC, group_key
