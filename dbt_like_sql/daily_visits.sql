-- Customer visits per day (staff left out): visits, distinct customers, median and mean time in the shop.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    count(*) AS visits,
    count(DISTINCT customer_id) AS customers,
    coalesce(median(duration_seconds), 0) AS median_duration_s,
    coalesce(avg(duration_seconds), 0) AS mean_duration_s
FROM {{ ref('visit_log') }}
WHERE day = {{ day }} AND NOT is_staff
