-- Each payment applied whole to its one invoice, so no invoice is ever allocated more than its amount.
INSERT INTO allocations (id, payment_id, invoice_id, amount)
SELECT pay.id, pay.id, plan.id, pay.amount
FROM bench_invoice_plan AS plan
JOIN payments AS pay ON pay.id = plan.payment_no
ORDER BY pay.id
