-- Till traffic per hour of the day (all 24 hours, zero where nothing was sold).
-- partitioned: daily
WITH hours AS (SELECT unnest(range(24)) AS hour),
sales AS (
    SELECT hour("timestamp") AS hour, count(*) AS transactions, sum(number_of_cans) AS cans, sum(amount) AS amount
    FROM {{ ref('transactions') }}
    WHERE day = {{ day }}
    GROUP BY 1
)
SELECT {{ day }} AS day, hours.hour,
       coalesce(sales.transactions, 0) AS transactions,
       coalesce(sales.cans, 0) AS cans,
       coalesce(sales.amount, 0) AS amount
FROM hours LEFT JOIN sales USING (hour)
ORDER BY hours.hour
