-- Ids were given explicitly; move the sequences past them so the app can add rows afterwards.
SELECT setval(pg_get_serial_sequence('customers', 'id'), greatest(1, (SELECT max(id) FROM customers))),
       setval(pg_get_serial_sequence('contacts', 'id'), greatest(1, (SELECT max(id) FROM contacts))),
       setval(pg_get_serial_sequence('invoices', 'id'), greatest(1, (SELECT max(id) FROM invoices))),
       setval(pg_get_serial_sequence('payments', 'id'), greatest(1, (SELECT max(id) FROM payments))),
       setval(pg_get_serial_sequence('allocations', 'id'), greatest(1, (SELECT max(id) FROM allocations)))
