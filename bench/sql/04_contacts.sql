-- One contact per customer, a person: the debtor themself, or a company's billing contact.
INSERT INTO contacts (id, customer_id, name, role, email, phone, consent_sms)
SELECT c.id,
       c.id,
       m.first_names[1 + pg_temp.roll(c.id, 9, :seed, cardinality(m.first_names))]
           || ' ' || m.last_names[1 + pg_temp.roll(c.id, 10, :seed, cardinality(m.last_names))],
       CASE c.kind WHEN 'company' THEN 'billing' ELSE 'debtor' END,
       'ar' || c.id || '@' || m.domain,
       m.phone_prefixes[1 + pg_temp.roll(c.id, 11, :seed, cardinality(m.phone_prefixes))]
           || lpad(pg_temp.roll(c.id, 12, :seed, CAST(10 ^ m.phone_digits AS bigint))::text, m.phone_digits, '0'),
       pg_temp.roll(c.id, 13, :seed, 10) < 6
FROM customers AS c
JOIN bench_markets AS m ON m.country = c.country
ORDER BY c.id
