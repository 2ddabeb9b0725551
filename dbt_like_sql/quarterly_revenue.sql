-- Revenue per calendar quarter, summed from the monthly figures.
-- partitioned: none
SELECT
    date_trunc('quarter', month)::DATE AS quarter_start,
    year(month) || '-Q' || quarter(month) AS quarter,
    sum(transactions) AS transactions,
    sum(cans) AS cans,
    sum(litres) AS litres,
    sum(billed_amount) AS billed_amount,
    sum(revenue) AS revenue,
    sum(unpaid_amount) AS unpaid_amount,
    sum(trading_days) AS trading_days
FROM {{ ref('monthly_revenue') }}
GROUP BY 1, 2
ORDER BY 1
