-- One row per day: sales, cans, litres, money billed, paid and owed.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    count(*) AS transactions,
    coalesce(sum(number_of_cans), 0) AS cans,
    coalesce(sum(litres), 0) AS litres,
    coalesce(sum(amount), 0) AS billed_amount,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Paid'), 0) AS revenue,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Unpaid'), 0) AS unpaid_amount,
    count(*) FILTER (WHERE payment_status = 'Unpaid') AS unpaid_transactions
FROM {{ ref('transactions') }}
WHERE day = {{ day }}
