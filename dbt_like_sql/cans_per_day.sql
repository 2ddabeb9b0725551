-- Cans and litres sold per day and can size.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    can_size,
    sum(number_of_cans) AS cans,
    sum(litres) AS litres,
    sum(amount) AS amount
FROM {{ ref('transactions') }}
WHERE day = {{ day }}
GROUP BY can_size
ORDER BY can_size
