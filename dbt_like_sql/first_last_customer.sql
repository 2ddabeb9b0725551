-- First and last sale of each day: when the shop really started and stopped selling.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    min("timestamp") AS first_sale_time,
    arg_min(transaction_id, "timestamp") AS first_transaction_id,
    arg_min(customer_id, "timestamp") AS first_customer_id,
    max("timestamp") AS last_sale_time,
    arg_max(transaction_id, "timestamp") AS last_transaction_id,
    arg_max(customer_id, "timestamp") AS last_customer_id,
    count(*) AS transactions
FROM {{ ref('transactions') }}
WHERE day = {{ day }}
HAVING count(*) > 0
