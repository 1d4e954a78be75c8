-- The aging report's figures as one plain aggregate, written by hand for the bench to compare
-- the service's query against: open balance per customer, currency and bucket as of :as_of.
SELECT i.customer_id, i.currency,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date <= 0) AS b0,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date BETWEEN 1 AND 30) AS b1,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date BETWEEN 31 AND 60) AS b2,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date BETWEEN 61 AND 90) AS b3,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date BETWEEN 91 AND 180) AS b4,
       sum(i.amount - coalesce(p.paid, 0)) FILTER (WHERE :as_of - i.due_date > 180) AS b5
FROM invoices i
LEFT JOIN (
    SELECT a.invoice_id, sum(a.amount) AS paid
    FROM allocations a JOIN payments pm ON pm.id = a.payment_id
    WHERE pm.received_on <= :as_of
    GROUP BY a.invoice_id
) p ON p.invoice_id = i.id
WHERE i.status IN ('open', 'paid') AND i.issue_date <= :as_of AND i.amount > coalesce(p.paid, 0)
GROUP BY i.customer_id, i.currency
