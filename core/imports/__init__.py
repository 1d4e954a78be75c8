"""Reading customers, invoices and payments from CSV/XLSX files: parse, validate, stage, upsert."""
