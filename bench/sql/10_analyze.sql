-- Fresh statistics, as autovacuum would give a book this size before anyone looks at it.
ANALYZE customers, contacts, invoices, payments, allocations
