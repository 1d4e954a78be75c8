-- Every invoice of the book with its fate: issued over the last two years in the customer's currency;
-- the :payments oldest-ish (with jitter) get one payment each, 80 % in full, the rest in part.
CREATE TEMP TABLE bench_invoice_plan AS
SELECT i.*,
       row_number() OVER (ORDER BY i.payment_order, i.id) AS payment_no,
       pg_temp.roll(i.id, 24, :seed, 10) < 8 AS paid_in_full
FROM (
    SELECT v.id,
           v.customer_id,
           v.issue_date,
           v.issue_date + (ARRAY[15, 30, 30, 45, 60])[1 + pg_temp.roll(v.id, 22, :seed, 5)] AS due_date,
           m.currency,
           (m.amount_low * 100 + (m.amount_high - m.amount_low) * 100
               * pg_temp.roll(v.id, 25, :seed, 1000) * pg_temp.roll(v.id, 26, :seed, 1000) / 1000000) / 100.0
               AS amount,
           pg_temp.roll(v.id, 23, :seed, 400) - (CAST(:as_of AS date) - v.issue_date) AS payment_order
    FROM (
        SELECT g AS id,
               1 + pg_temp.roll(g, 20, :seed, :customers) AS customer_id,
               CAST(:as_of AS date) - CAST(pg_temp.roll(g, 21, :seed, 730) AS integer) AS issue_date
        FROM generate_series(1, CAST(:invoices AS integer)) AS g
    ) AS v
    JOIN customers AS c ON c.id = v.customer_id
    JOIN bench_markets AS m ON m.country = c.country
) AS i
