-- The invoices; one is paid when its single payment covers it in full.
INSERT INTO invoices (id, customer_id, source, number, issue_date, due_date, currency, amount, status, disputed, version)
SELECT id, customer_id, 'bench', 'INV-' || lpad(id::text, 8, '0'), issue_date, due_date, currency, amount,
       CASE WHEN payment_no <= :payments AND paid_in_full THEN 'paid' ELSE 'open' END,
       false,
       1
FROM bench_invoice_plan
ORDER BY id
