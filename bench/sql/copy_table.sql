-- What the invoices table holds for a row of the import file, with the same kinds of constraints and
-- indexes (core/models.py Invoice), the customer as its unique external ref: the raw COPY baseline.
CREATE TABLE bench_invoice_copy (
    id serial PRIMARY KEY,
    customer_ref varchar(100) NOT NULL REFERENCES customers (external_ref),
    source varchar(100) NOT NULL DEFAULT 'bench-copy',
    invoice_number varchar(100) NOT NULL,
    issue_date date NOT NULL,
    due_date date NOT NULL,
    currency varchar(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount numeric(19, 4) NOT NULL CHECK (amount > 0),
    status varchar(16) NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'written_off', 'void')),
    disputed boolean NOT NULL DEFAULT false,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (due_date >= issue_date),
    UNIQUE (customer_ref, invoice_number)
);
CREATE INDEX ON bench_invoice_copy (customer_ref);
CREATE INDEX ON bench_invoice_copy (due_date);
