-- The work queue's first page written by hand: what list_work_queue(QueueFilter(), sort="priority",
-- page=1) returns, ids in the same order, over the same tables and with the same score
-- (core/services/queue.py _queue_query, _score, _ranks; weights bound from core/priority.py).
-- The bench checks the ids against the service's and divides the two timings.
WITH ranks AS (
    -- the share of queue accounts with a smaller open balance in the same currency, the highest
    -- over the account's currencies; ranked over every account with a due date, shown or not
    SELECT r.customer_id, max(r.rank) AS rank
    FROM (
        SELECT b.customer_id, percent_rank() OVER (PARTITION BY b.currency ORDER BY b.open_amount) AS rank
        FROM account_balances b
        JOIN account_summaries q ON q.customer_id = b.customer_id AND q.oldest_due_date IS NOT NULL
    ) r
    GROUP BY r.customer_id
),
facts AS (
    SELECT c.id, c.external_ref, c.name, c.risk_tier, u.name AS collector, s.missed_instalments,
           CAST(:as_of AS date) - s.oldest_due_date AS dpd,
           coalesce(r.rank, 0.0) AS rank,
           CAST(:as_of AS date) - CAST(s.last_contact_at AT TIME ZONE c.time_zone AS date) AS contact_days,
           s.promise_status = 'broken'
               OR (s.promise_status = 'pending' AND s.promise_due_on < CAST(:as_of AS date)) AS broken,
           s.promise_status = 'pending' AND s.promise_due_on = CAST(:as_of AS date) AS due_today
    FROM customers c
    JOIN account_summaries s ON s.customer_id = c.id
    LEFT JOIN ranks r ON r.customer_id = c.id
    LEFT JOIN users u ON u.id = c.collector_id
    WHERE s.oldest_due_date < CAST(:as_of AS date)  -- overdue (so not null)
      AND (c.next_action_on IS NULL OR c.next_action_on <= CAST(:as_of AS date))  -- not scheduled later
      AND (NOT c.on_hold OR c.hold_until <= CAST(:as_of AS date))  -- not on hold, or the hold has ended
)
SELECT f.id, f.external_ref, f.name, f.collector, f.dpd,
       CASE WHEN f.broken THEN :broken_promise ELSE 0 END
       + CASE WHEN f.due_today THEN :promise_due_today ELSE 0 END
       + f.missed_instalments * :missed_instalment
       + CASE WHEN f.dpd <= 0 THEN :bucket_current
              WHEN f.dpd <= 30 THEN :bucket_1_30
              WHEN f.dpd <= 60 THEN :bucket_31_60
              WHEN f.dpd <= 90 THEN :bucket_61_90
              WHEN f.dpd <= 180 THEN :bucket_91_180
              ELSE :bucket_180_plus END
       + CASE WHEN f.rank >= 0.95 THEN :balance_top_5_percent
              WHEN f.rank >= 0.80 THEN :balance_top_20_percent
              ELSE 0 END
       + CASE f.risk_tier WHEN 'low' THEN :risk_low WHEN 'medium' THEN :risk_medium
                          WHEN 'high' THEN :risk_high ELSE 0 END
       + CASE WHEN f.contact_days IS NULL THEN :never_contacted
              WHEN f.contact_days <= 1 THEN :contacted_yesterday
              WHEN f.contact_days <= 7 THEN :contacted_this_week
              ELSE 0 END AS score,
       count(*) OVER () AS total
FROM facts f
ORDER BY score DESC, f.dpd DESC, f.id
LIMIT 50
