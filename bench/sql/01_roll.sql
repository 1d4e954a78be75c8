-- roll(i, stream, seed, n): a deterministic pseudo-random integer in [0, n) for row i.
-- Each use takes its own stream number, so the rolls of one row are independent.
CREATE FUNCTION pg_temp.roll(i bigint, stream integer, seed bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((hashint8extended(i, seed * 64 + stream) % n) + n) % n $$
