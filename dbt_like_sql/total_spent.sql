-- Lifetime spend per customer (the till's ID, else the camera's): sales, money paid and still owed, first and last purchase.
-- partitioned: none
WITH sales AS (
    SELECT t.*, coalesce(l.customer_id, t.customer_id) AS who
    FROM {{ ref('transactions') }} t
    LEFT JOIN {{ ref('transaction_links') }} l ON l.day = t.day AND l.transaction_id = t.transaction_id
)
SELECT
    who AS customer_id,
    count(*) AS transactions,
    sum(number_of_cans) AS cans,
    sum(amount) AS billed_amount,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Paid'), 0) AS amount_paid,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Unpaid'), 0) AS amount_owed,
    min(day) AS first_purchase,
    max(day) AS last_purchase
FROM sales
WHERE who IS NOT NULL
GROUP BY who
ORDER BY billed_amount DESC, customer_id
