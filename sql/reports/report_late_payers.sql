-- Clients who regularly pay late: per customer, the invoices settled in the period (settled on
-- the received date of the payment whose allocation first covered the whole amount, as in
-- invoice_settlement.sql), how many of them late (settled after the due date), the average and
-- median days late (never below 0: early counts as 0), and the trend — the average days late of
-- the later half of the period minus the earlier half (positive: paying later than before).
-- :shown NULL: every customer; else the first :shown of them (customers: how many in all).
WITH in_period AS (
    -- invoices.settled_on: the day the payment that completed it was received (migration 0007)
    SELECT i.customer_id, i.settled_on, greatest(i.settled_on - i.due_date, 0) AS days_late
    FROM invoices i
    JOIN customers c ON c.id = i.customer_id
    WHERE i.settled_on BETWEEN :start AND :end
      AND (CAST(:currency AS text) IS NULL OR i.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL
           OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
)
SELECT c.id AS customer_id,
       c.external_ref AS customer_ref,
       c.name AS customer,
       count(*) AS invoices_paid,
       count(*) FILTER (WHERE p.days_late > 0) AS paid_late,
       round(count(*) FILTER (WHERE p.days_late > 0)::numeric / count(*), 4) AS late_share,
       round(avg(p.days_late), 2) AS average_days_late,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.days_late) AS median_days_late,
       max(p.days_late) AS most_days_late,
       round(avg(p.days_late) FILTER (WHERE p.settled_on > :start + (:end - :start) / 2)
             - avg(p.days_late) FILTER (WHERE p.settled_on <= :start + (:end - :start) / 2), 2) AS trend,
       count(*) OVER () AS customers
FROM in_period p
JOIN customers c ON c.id = p.customer_id
GROUP BY c.id, c.external_ref, c.name
ORDER BY late_share DESC, average_days_late DESC, c.name
LIMIT CAST(:shown AS integer)
