-- The markets of the demo book (core/demo_markets.py); a customer falls in [share_from, share_to) per mille.
CREATE TEMP TABLE bench_markets AS
SELECT *
FROM jsonb_to_recordset(CAST(:markets AS jsonb)) AS m(
    country text, currency text, time_zone text, share_from integer, share_to integer, segments text[],
    amount_low integer, amount_high integer, phone_prefixes text[], phone_digits integer, domain text,
    first_names text[], last_names text[]
)
