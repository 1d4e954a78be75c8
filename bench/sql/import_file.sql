-- The invoice file to import: :rows new invoices (BENCH-…) for existing customers, in their currency.
-- Run as COPY … TO STDOUT through psycopg, hence its placeholders rather than text()'s.
COPY (
    SELECT c.external_ref AS customer_ref,
           'BENCH-' || lpad(r.k::text, 8, '0') AS invoice_number,
           to_char(r.issue_date, 'YYYY-MM-DD') AS issue_date,
           to_char(r.issue_date + (ARRAY[15, 30, 30, 45, 60])[1 + pg_temp.roll(r.k, 42, %(seed)s, 5)], 'YYYY-MM-DD')
               AS due_date,
           to_char((m.amount_low * 100 + (m.amount_high - m.amount_low) * 100
                        * pg_temp.roll(r.k, 43, %(seed)s, 1000) * pg_temp.roll(r.k, 44, %(seed)s, 1000) / 1000000)
                       / 100.0, 'FM9999999999990.00') AS amount,
           m.currency
    FROM (
        SELECT g AS k,
               1 + pg_temp.roll(g, 40, %(seed)s, %(customers)s) AS customer_id,
               CAST(%(as_of)s AS date) - CAST(pg_temp.roll(g, 41, %(seed)s, 730) AS integer) AS issue_date
        FROM generate_series(1, %(rows)s) AS g
    ) AS r
    JOIN customers AS c ON c.id = r.customer_id
    JOIN bench_markets AS m ON m.country = c.country
    ORDER BY r.k
) TO STDOUT WITH (FORMAT csv, HEADER true)
