-- The day's unpaid sales: who took cans without paying, and how much they owe.
-- partitioned: daily
SELECT
    day, transaction_id, "timestamp", customer_id, can_size, number_of_cans, amount
FROM {{ ref('transactions') }}
WHERE day = {{ day }} AND payment_status = 'Unpaid'
ORDER BY "timestamp"
