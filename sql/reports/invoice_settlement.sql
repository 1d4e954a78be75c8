-- Settled invoices with how long each took: settled on the received date of the payment whose
-- allocation first covered the whole amount. days_late counts from the due date, never below 0.
-- :customer_id NULL means every customer.
SELECT i.id AS invoice_id,
       c.external_ref AS customer_ref,
       i.number,
       i.issue_date,
       i.due_date,
       settled.settled_on,
       settled.settled_on - i.issue_date AS days_to_settle,
       greatest(settled.settled_on - i.due_date, 0) AS days_late
FROM invoices i
JOIN customers c ON c.id = i.customer_id
JOIN LATERAL (
    SELECT min(running.received_on) AS settled_on
    FROM (
        SELECT p.received_on, sum(a.amount) OVER (ORDER BY p.received_on, a.id) AS covered
        FROM allocations a
        JOIN payments p ON p.id = a.payment_id
        WHERE a.invoice_id = i.id
    ) running
    WHERE running.covered >= i.amount
) settled ON settled.settled_on IS NOT NULL
WHERE (CAST(:customer_id AS integer) IS NULL OR i.customer_id = CAST(:customer_id AS integer))
ORDER BY i.id
