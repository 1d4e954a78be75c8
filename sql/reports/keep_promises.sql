-- Mark kept every pending (or already broken) promise of these customers that the payments
-- received from the day it was made up to its date now cover. Returns what changed.
UPDATE promises pr
SET status = 'kept', version = pr.version + 1
WHERE pr.status IN ('pending', 'broken')
  AND (:all_customers OR pr.customer_id = ANY(:ids))
  AND (
      SELECT coalesce(sum(p.amount), 0)
      FROM payments p
      WHERE p.customer_id = pr.customer_id
        AND p.currency = pr.currency
        AND p.received_on BETWEEN pr.made_on AND pr.due_on
  ) >= pr.amount
RETURNING pr.id, pr.customer_id, pr.invoice_id, pr.due_on, pr.amount, pr.currency
