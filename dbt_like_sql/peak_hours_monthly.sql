-- Per calendar month and hour of day: mean footfall and sales per day, and the month's peak hour.
-- partitioned: none
WITH m AS (
    SELECT date_trunc('month', day)::DATE AS month, hour,
           avg(visits) AS visits_per_day, avg(transactions) AS sales_per_day, count(DISTINCT day) AS days
    FROM {{ ref('peak_hours') }}
    GROUP BY 1, 2
)
SELECT month, hour, round(visits_per_day, 2) AS visits_per_day, round(sales_per_day, 2) AS sales_per_day, days,
       visits_per_day > 0 AND visits_per_day = max(visits_per_day) OVER (PARTITION BY month) AS is_peak
FROM m
ORDER BY month, hour
