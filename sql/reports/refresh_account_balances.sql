-- Recompute the precomputed open balances per customer and currency (account_balances) for the
-- customers in :ids, or for every customer when :all_customers is true. Deleted first, so a
-- balance paid off disappears (clear_account_balances.sql runs first). Allocations include
-- credit notes and write-offs.
INSERT INTO account_balances (customer_id, currency, open_amount, disputed_amount, open_invoices, oldest_due_date)
SELECT i.customer_id,
       i.currency,
       sum(i.amount - coalesce(p.paid, 0)),
       coalesce(sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE i.disputed), 0),
       count(*),
       min(i.due_date) FILTER (WHERE NOT i.disputed)
FROM invoices i
LEFT JOIN (
    SELECT a.invoice_id, sum(a.amount) AS paid
    FROM allocations a
    JOIN invoices ai ON ai.id = a.invoice_id
    WHERE ai.status = 'open' AND (:all_customers OR ai.customer_id = ANY(:ids))
    GROUP BY a.invoice_id
) p ON p.invoice_id = i.id
WHERE i.status = 'open'
  AND (:all_customers OR i.customer_id = ANY(:ids))
  AND i.amount > coalesce(p.paid, 0)
GROUP BY i.customer_id, i.currency
