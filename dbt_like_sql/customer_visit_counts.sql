-- How often each customer comes: visits, days seen, first and last visit, average gap between visit days.
-- partitioned: none
WITH per_day AS (
    SELECT customer_id, day, count(*) AS visits FROM {{ ref('visit_log') }} WHERE NOT is_staff AND customer_id IS NOT NULL GROUP BY ALL
)
SELECT
    customer_id,
    sum(visits) AS visits,
    count(*) AS days_seen,
    min(day) AS first_visit,
    max(day) AS last_visit,
    CASE WHEN count(*) > 1 THEN round(date_diff('day', min(day), max(day)) / (count(*) - 1), 1) END AS mean_days_between_visits
FROM per_day
GROUP BY customer_id
ORDER BY visits DESC, customer_id
