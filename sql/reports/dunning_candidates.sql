-- What the reminder planner needs per customer and currency with something open and not
-- disputed: the cycle's anchor (the oldest open undisputed due date), what is overdue, holds and
-- flags, a current plan, a pending promise. Accounts whose anchor is further ahead than the
-- earliest "before due" step (:lead_days) are left out.
SELECT c.id AS customer_id, c.country, c.segment, c.risk_tier, c.sequence_id,
       b.currency, b.oldest_due_date AS anchor,
       coalesce(o.overdue, 0) AS overdue,
       c.on_hold AND (c.hold_until IS NULL OR c.hold_until >= :today) AS on_hold,
       c.bankrupt, c.attorney_on_record, c.deceased, c.do_not_contact, c.legal,
       EXISTS (
           SELECT 1 FROM payment_plans p
           WHERE p.customer_id = c.id AND p.currency = b.currency AND p.status = 'current'
       ) AS on_current_plan,
       (
           SELECT max(pr.due_on) FROM promises pr
           WHERE pr.customer_id = c.id AND pr.currency = b.currency AND pr.status = 'pending'
       ) AS promise_until
FROM account_balances b
JOIN customers c ON c.id = b.customer_id
LEFT JOIN LATERAL (
    SELECT sum(i.amount - coalesce(paid.amount, 0)) AS overdue
    FROM invoices i
    LEFT JOIN LATERAL (SELECT sum(a.amount) AS amount FROM allocations a WHERE a.invoice_id = i.id) paid ON true
    WHERE i.customer_id = c.id AND i.currency = b.currency AND i.status = 'open' AND NOT i.disputed
      AND i.due_date < :today
) o ON true
WHERE b.oldest_due_date IS NOT NULL
  AND b.oldest_due_date <= :today + :lead_days
  AND NOT c.dunning_excluded
ORDER BY c.id, b.currency
