-- Recompute the work queue's per-customer summary (account_summaries) from account_balances
-- (refreshed first), the timeline and the promises, for the customers in :ids or all of them.
INSERT INTO account_summaries AS s (
    customer_id, oldest_due_date, open_invoices, disputed_invoices, currencies, last_contact_at,
    promise_id, promise_status, promise_due_on, promise_amount, promise_currency, refreshed_at
)
SELECT c.id,
       b.oldest_due_date,
       coalesce(b.open_invoices, 0),
       coalesce(d.disputed_invoices, 0),
       coalesce(b.currencies, ''),
       contact.at,
       pr.id, pr.status, pr.due_on, pr.amount, pr.currency,
       now()
FROM customers c
LEFT JOIN (
    SELECT customer_id,
           min(oldest_due_date) AS oldest_due_date,
           sum(open_invoices) AS open_invoices,
           string_agg(currency, ' ' ORDER BY currency) AS currencies
    FROM account_balances
    WHERE :all_customers OR customer_id = ANY(:ids)
    GROUP BY customer_id
) b ON b.customer_id = c.id
LEFT JOIN (
    SELECT customer_id, count(*) AS disputed_invoices
    FROM invoices
    WHERE disputed AND status = 'open' AND (:all_customers OR customer_id = ANY(:ids))
    GROUP BY customer_id
) d ON d.customer_id = c.id
LEFT JOIN LATERAL (
    SELECT max(a.occurred_at) AS at
    FROM activities a
    WHERE a.customer_id = c.id AND a.kind IN ('call', 'email', 'sms', 'letter')
) contact ON true
LEFT JOIN LATERAL (
    SELECT p.id, p.status, p.due_on, p.amount, p.currency
    FROM promises p
    WHERE p.customer_id = c.id
    ORDER BY p.made_on DESC, p.id DESC
    LIMIT 1
) pr ON true
WHERE :all_customers OR c.id = ANY(:ids)
ON CONFLICT (customer_id) DO UPDATE SET
    oldest_due_date = excluded.oldest_due_date,
    open_invoices = excluded.open_invoices,
    disputed_invoices = excluded.disputed_invoices,
    currencies = excluded.currencies,
    last_contact_at = excluded.last_contact_at,
    promise_id = excluded.promise_id,
    promise_status = excluded.promise_status,
    promise_due_on = excluded.promise_due_on,
    promise_amount = excluded.promise_amount,
    promise_currency = excluded.promise_currency,
    refreshed_at = excluded.refreshed_at
