-- Per collector over the period: call attempts they logged (outbound calls), right-party contacts
-- (a conversation with the debtor: outcome "rpc" or "promise made"), promises they took and how
-- many were kept, and, on the accounts assigned to them now, what payments received in the
-- period collected (per currency) and the average days late of the invoices those payments
-- completed (settled on the day the completing payment was received; early counts as 0).
WITH staff AS (
    SELECT u.id, u.username, u.name FROM users u WHERE u.role IN ('collector', 'manager')
      AND (CAST(:collector_id AS integer) IS NULL OR u.id = CAST(:collector_id AS integer))
),
calls AS (
    SELECT a.actor_id AS user_id,
           count(*) FILTER (WHERE a.direction = 'outbound') AS attempts,
           count(*) FILTER (WHERE a.outcome IN ('rpc', 'promise_made')) AS right_party_contacts
    FROM activities a
    WHERE a.kind = 'call' AND a.occurred_at >= :start AND a.occurred_at < CAST(:end AS date) + 1
    GROUP BY a.actor_id
),
taken AS (
    SELECT u.id AS user_id,
           count(*) AS promises_made,
           count(*) FILTER (WHERE pr.status = 'kept') AS promises_kept,
           count(*) FILTER (WHERE pr.status = 'broken') AS promises_broken
    FROM promises pr JOIN users u ON u.username = pr.actor
    WHERE pr.made_on BETWEEN :start AND :end
    GROUP BY u.id
),
collected AS (
    SELECT c.collector_id AS user_id, p.currency, sum(a.amount) AS collected
    FROM allocations a
    JOIN payments p ON p.id = a.payment_id
    JOIN invoices i ON i.id = a.invoice_id
    JOIN customers c ON c.id = i.customer_id
    WHERE p.received_on BETWEEN :start AND :end
      AND (CAST(:currency AS text) IS NULL OR p.currency = CAST(:currency AS text))
      AND (CAST(:country AS text) IS NULL OR c.country = CAST(:country AS text))
      AND (CAST(:segment AS text) IS NULL OR c.segment = CAST(:segment AS text))
    GROUP BY c.collector_id, p.currency
),
settled AS (  -- invoices.settled_on: the day the completing payment was received (migration 0007)
    SELECT c.collector_id AS user_id, i.currency, avg(greatest(i.settled_on - i.due_date, 0)) AS days_late
    FROM invoices i
    JOIN customers c ON c.id = i.customer_id
    WHERE i.settled_on BETWEEN :start AND :end AND c.collector_id IS NOT NULL
    GROUP BY c.collector_id, i.currency
)
SELECT st.name AS collector,
       coalesce(col.currency, '') AS currency,
       coalesce(calls.attempts, 0) AS attempts,
       coalesce(calls.right_party_contacts, 0) AS right_party_contacts,
       coalesce(taken.promises_made, 0) AS promises_made,
       coalesce(taken.promises_kept, 0) AS promises_kept,
       round(taken.promises_kept::numeric / nullif(taken.promises_kept + taken.promises_broken, 0) * 100, 1)
           AS kept_rate,
       coalesce(col.collected, 0) AS collected,
       round(settled.days_late, 1) AS average_days_late
FROM staff st
LEFT JOIN calls ON calls.user_id = st.id
LEFT JOIN taken ON taken.user_id = st.id
LEFT JOIN collected col ON col.user_id = st.id
LEFT JOIN settled ON settled.user_id = st.id AND settled.currency = col.currency
ORDER BY st.name, currency
