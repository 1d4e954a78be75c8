-- Payment k pays invoice payment_no = k: in full or 25/40/50 % of it, received -5..60 days from due,
-- never before the issue date nor after :as_of.
INSERT INTO payments (id, customer_id, source, reference, received_on, currency, amount, method)
SELECT p.payment_no,
       p.customer_id,
       'bench',
       'PAY-' || lpad(p.payment_no::text, 8, '0'),
       greatest(p.issue_date, least(CAST(:as_of AS date),
                                    p.due_date + CAST(pg_temp.roll(p.id, 27, :seed, 66) AS integer) - 5)),
       p.currency,
       CASE WHEN p.paid_in_full THEN p.amount
            ELSE greatest(0.01, trunc(p.amount * (ARRAY[0.25, 0.4, 0.5])[1 + pg_temp.roll(p.id, 28, :seed, 3)], 2))
       END,
       (CAST(:methods AS text[]))[1 + pg_temp.roll(p.id, 29, :seed, cardinality(CAST(:methods AS text[])))]
FROM bench_invoice_plan AS p
WHERE p.payment_no <= :payments
ORDER BY p.payment_no
