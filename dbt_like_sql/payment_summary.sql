-- Sales per day and payment mode: how many, how much billed, how much actually paid.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    coalesce(payment_mode, 'None') AS payment_mode,
    count(*) AS transactions,
    sum(amount) AS amount,
    sum(amount) FILTER (WHERE payment_status = 'Paid') AS paid_amount,
    coalesce(sum(amount) FILTER (WHERE payment_status = 'Unpaid'), 0) AS unpaid_amount
FROM {{ ref('transactions') }}
WHERE day = {{ day }}
GROUP BY ALL
