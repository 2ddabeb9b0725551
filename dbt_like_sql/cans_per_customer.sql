-- Cans and litres each customer (the till's ID, else the camera's) has bought, by can size.
-- partitioned: none
WITH sales AS (
    SELECT t.*, coalesce(l.customer_id, t.customer_id) AS who
    FROM {{ ref('transactions') }} t
    LEFT JOIN {{ ref('transaction_links') }} l ON l.day = t.day AND l.transaction_id = t.transaction_id
)
SELECT who AS customer_id, can_size, sum(number_of_cans) AS cans, sum(litres) AS litres, count(*) AS transactions
FROM sales
WHERE who IS NOT NULL
GROUP BY who, can_size
ORDER BY customer_id, can_size
