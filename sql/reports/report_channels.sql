-- Channel and step effectiveness. For each sequence step and channel, the reminders sent in the
-- period by the aging bucket the debt was in (days past due on the day sent, counted from the
-- cycle's oldest due date), and the share of those customers who paid something in that currency
-- within 3, 7 and 14 days after. Beside it, the comparison: customers overdue in the same bucket
-- and currency on the Monday of that week (their oldest unpaid overdue invoice, as it stood that
-- day) who were sent nothing that week, and the share of them who paid within 3, 7 and 14 days of
-- the Monday.
WITH sent AS (
    SELECT s.customer_id, s.currency, s.step_id, s.channel,
           s.sent_at::date AS day, date_trunc('week', s.sent_at)::date AS week, s.sent_at::date - s.cycle AS dpd
    FROM sends s
    JOIN customers c ON c.id = s.customer_id
    WHERE s.status = 'sent' AND s.sent_at::date BETWEEN :start AND :end
      AND (CAST(:currency AS text) IS NULL OR s.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
),
weeks AS (
    SELECT DISTINCT week, currency FROM sent
),
paid_days AS (  -- the days each customer paid something, in the currencies reminded about
    SELECT DISTINCT p.customer_id, p.currency, p.received_on
    FROM payments p
    WHERE p.customer_id IS NOT NULL AND p.reversed_on IS NULL
      AND p.currency IN (SELECT currency FROM weeks)
      AND p.received_on BETWEEN :start AND CAST(:end AS date) + 14
),
overdue_then AS (  -- per week: each customer's oldest invoice overdue and unpaid on its Monday
    SELECT w.week, i.currency, i.customer_id, max(w.week - i.due_date) AS dpd
    FROM weeks w
    JOIN invoices i ON i.currency = w.currency AND i.issue_date <= w.week AND i.due_date < w.week
    JOIN customers c ON c.id = i.customer_id
    WHERE i.status IN ('open', 'paid') AND (i.settled_on IS NULL OR i.settled_on > w.week)
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
      AND (CAST(:collector_id AS integer) IS NULL OR coalesce(c.collector_id, 0) = CAST(:collector_id AS integer))
    GROUP BY w.week, i.currency, i.customer_id
),
bucketed AS (
    SELECT 'sent' AS side, s.step_id, s.channel, s.currency, s.customer_id, s.day AS since, s.dpd FROM sent s
    UNION ALL
    SELECT 'not contacted', NULL, NULL, o.currency, o.customer_id, o.week, o.dpd
    FROM overdue_then o
    WHERE NOT EXISTS (SELECT 1 FROM sent s WHERE s.customer_id = o.customer_id AND s.week = o.week)
),
outcomes AS (
    SELECT b.*,
           CASE WHEN b.dpd <= 0 THEN 'current' WHEN b.dpd <= 30 THEN '1-30' WHEN b.dpd <= 60 THEN '31-60'
                WHEN b.dpd <= 90 THEN '61-90' WHEN b.dpd <= 180 THEN '91-180' ELSE '180+' END AS bucket,
           (SELECT min(d.received_on) - b.since FROM paid_days d
             WHERE d.customer_id = b.customer_id AND d.currency = b.currency
               AND d.received_on > b.since AND d.received_on <= b.since + 14) AS paid_after
    FROM bucketed b
),
sent_rows AS (
    SELECT currency, bucket, step_id, channel, count(*) AS sends,
           round(count(*) FILTER (WHERE paid_after <= 3)::numeric / count(*) * 100, 1) AS paid_3,
           round(count(*) FILTER (WHERE paid_after <= 7)::numeric / count(*) * 100, 1) AS paid_7,
           round(count(*) FILTER (WHERE paid_after <= 14)::numeric / count(*) * 100, 1) AS paid_14
    FROM outcomes WHERE side = 'sent'
    GROUP BY currency, bucket, step_id, channel
),
control AS (
    SELECT currency, bucket, count(*) AS customers,
           round(count(*) FILTER (WHERE paid_after <= 3)::numeric / count(*) * 100, 1) AS paid_3,
           round(count(*) FILTER (WHERE paid_after <= 7)::numeric / count(*) * 100, 1) AS paid_7,
           round(count(*) FILTER (WHERE paid_after <= 14)::numeric / count(*) * 100, 1) AS paid_14
    FROM outcomes WHERE side = 'not contacted'
    GROUP BY currency, bucket
)
SELECT sr.currency,
       q.name AS sequence,
       st.position AS step,
       st.stage,
       sr.channel,
       sr.bucket,
       sr.sends,
       sr.paid_3 AS paid_within_3_days,
       sr.paid_7 AS paid_within_7_days,
       sr.paid_14 AS paid_within_14_days,
       coalesce(ct.customers, 0) AS not_contacted,
       ct.paid_3 AS not_contacted_paid_3_days,
       ct.paid_7 AS not_contacted_paid_7_days,
       ct.paid_14 AS not_contacted_paid_14_days
FROM sent_rows sr
JOIN dunning_steps st ON st.id = sr.step_id
JOIN dunning_sequences q ON q.id = st.sequence_id
LEFT JOIN control ct ON ct.currency = sr.currency AND ct.bucket = sr.bucket
ORDER BY sr.currency, q.name, st.position, sr.channel, sr.bucket
