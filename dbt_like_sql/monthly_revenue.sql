-- Revenue per calendar month, summed from the daily figures.
-- partitioned: none
SELECT
    date_trunc('month', day)::DATE AS month,
    sum(transactions) AS transactions,
    sum(cans) AS cans,
    sum(litres) AS litres,
    sum(billed_amount) AS billed_amount,
    sum(revenue) AS revenue,
    sum(unpaid_amount) AS unpaid_amount,
    count(*) FILTER (WHERE transactions > 0) AS trading_days
FROM {{ ref('daily_revenue') }}
GROUP BY 1
ORDER BY 1
