-- Customers 1..:customers with refs C0000001…; 70 % companies (with a credit limit), risk 5:3:2.
INSERT INTO customers (id, external_ref, kind, name, country, time_zone, language, segment, risk_tier,
                       credit_limit, credit_currency)
SELECT c.i,
       'C' || lpad(c.i::text, 7, '0'),
       CASE WHEN c.company THEN 'company' ELSE 'person' END,
       CASE WHEN c.company
            THEN (ARRAY['Acacia', 'Banyan', 'Coral', 'Delta', 'Harbor', 'Lotus', 'Meridian', 'Narra',
                        'Orchid', 'Pioneer', 'Summit', 'Vista'])[1 + pg_temp.roll(c.i, 3, :seed, 12)]
                 || ' ' || (ARRAY['Trading', 'Holdings', 'Logistics', 'Foods', 'Builders', 'Retail',
                                  'Systems', 'Supply'])[1 + pg_temp.roll(c.i, 4, :seed, 8)]
                 || ' ' || (ARRAY['Inc.', 'Corp.', 'Pte. Ltd.', 'LLC'])[1 + pg_temp.roll(c.i, 5, :seed, 4)]
            -- the same rolls name the person in 04_contacts.sql
            ELSE m.first_names[1 + pg_temp.roll(c.i, 9, :seed, cardinality(m.first_names))]
                 || ' ' || m.last_names[1 + pg_temp.roll(c.i, 10, :seed, cardinality(m.last_names))]
       END,
       m.country,
       m.time_zone,
       'en',
       m.segments[1 + pg_temp.roll(c.i, 6, :seed, cardinality(m.segments))],
       (ARRAY['low', 'low', 'low', 'low', 'low', 'medium', 'medium', 'medium', 'high', 'high'])
           [1 + pg_temp.roll(c.i, 7, :seed, 10)],
       CASE WHEN c.company THEN m.amount_high * (ARRAY[1, 2, 4])[1 + pg_temp.roll(c.i, 8, :seed, 3)] END,
       CASE WHEN c.company THEN m.currency END
FROM (
    SELECT g AS i,
           pg_temp.roll(g, 1, :seed, 1000) AS share,
           pg_temp.roll(g, 2, :seed, 10) < 7 AS company
    FROM generate_series(1, CAST(:customers AS integer)) AS g
) AS c
JOIN bench_markets AS m ON c.share >= m.share_from AND c.share < m.share_to
ORDER BY c.i
