-- Clients who regularly pay late: per customer, the invoices settled in the period (settled on
-- the received date of the payment whose allocation first covered the whole amount, as in
-- invoice_settlement.sql), how many of them late (settled after the due date), the average and
-- median days late (never below 0: early counts as 0), and the trend — the average days late of
-- the later half of the period minus the earlier half (positive: paying later than before).
WITH running AS (
    -- payments received by the end of the period, running total per invoice in date order
    SELECT a.invoice_id, p.received_on,
           sum(a.amount) OVER (PARTITION BY a.invoice_id ORDER BY p.received_on, a.id) AS covered
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    WHERE p.received_on <= :end
),
settled AS (
    SELECT r.invoice_id, min(r.received_on) AS settled_on
    FROM running r
    JOIN invoices i ON i.id = r.invoice_id
    WHERE r.covered >= i.amount
    GROUP BY r.invoice_id
),
in_period AS (
    SELECT i.customer_id, s.settled_on, greatest(s.settled_on - i.due_date, 0) AS days_late
    FROM settled s
    JOIN invoices i ON i.id = s.invoice_id
    JOIN customers c ON c.id = i.customer_id
    WHERE s.settled_on >= :start
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
             - avg(p.days_late) FILTER (WHERE p.settled_on <= :start + (:end - :start) / 2), 2) AS trend
FROM in_period p
JOIN customers c ON c.id = p.customer_id
GROUP BY c.id, c.external_ref, c.name
ORDER BY late_share DESC, average_days_late DESC, c.name
