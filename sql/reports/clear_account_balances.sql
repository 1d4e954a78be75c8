-- The first half of refreshing account_balances: forget the customers about to be recomputed.
DELETE FROM account_balances WHERE :all_customers OR customer_id = ANY(:ids)
