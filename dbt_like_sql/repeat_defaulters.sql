-- Customers with two or more unpaid sales in the 30 days ending on the partition day, with what they owe.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    customer_id,
    count(*) AS unpaid_count,
    sum(amount) AS amount_owed,
    min("timestamp") AS first_unpaid,
    max("timestamp") AS last_unpaid
FROM {{ ref('transactions', window_days=30) }}
WHERE payment_status = 'Unpaid'
  AND customer_id IS NOT NULL
  AND day BETWEEN {{ day }} - INTERVAL 29 DAY AND {{ day }}
GROUP BY customer_id
HAVING count(*) >= 2
ORDER BY amount_owed DESC, customer_id
