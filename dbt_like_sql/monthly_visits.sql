-- Customer visits per calendar month.
-- partitioned: none
SELECT
    date_trunc('month', day)::DATE AS month,
    sum(visits) AS visits,
    count(*) FILTER (WHERE visits > 0) AS days_with_visits,
    round(avg(visits), 2) AS visits_per_day
FROM {{ ref('daily_visits') }}
GROUP BY 1
ORDER BY 1
