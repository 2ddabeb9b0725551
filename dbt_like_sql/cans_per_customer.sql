-- Cans and litres each known customer has bought, by can size.
-- partitioned: none
SELECT
    customer_id,
    can_size,
    sum(number_of_cans) AS cans,
    sum(litres) AS litres,
    count(*) AS transactions
FROM {{ ref('transactions') }}
WHERE customer_id IS NOT NULL
GROUP BY customer_id, can_size
ORDER BY customer_id, can_size
