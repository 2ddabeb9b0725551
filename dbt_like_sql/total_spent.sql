-- Lifetime spend per known customer: sales, money paid and still owed, first and last purchase.
-- partitioned: none
SELECT
    customer_id,
    count(*) AS transactions,
    sum(number_of_cans) AS cans,
    sum(amount) AS billed_amount,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Paid'), 0) AS amount_paid,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Unpaid'), 0) AS amount_owed,
    min(day) AS first_purchase,
    max(day) AS last_purchase
FROM {{ ref('transactions') }}
WHERE customer_id IS NOT NULL
GROUP BY customer_id
ORDER BY billed_amount DESC, customer_id
