-- Customer arrivals per hour of the day (all 24 hours), with the time they spent in the shop.
-- partitioned: daily
WITH hours AS (SELECT unnest(range(24)) AS hour),
v AS (
    SELECT hour(entry_time) AS hour, count(*) AS visits, avg(duration_seconds) AS mean_duration_s
    FROM {{ ref('visit_log') }}
    WHERE day = {{ day }} AND NOT is_staff
    GROUP BY 1
)
SELECT {{ day }} AS day, hours.hour, coalesce(v.visits, 0) AS visits, coalesce(v.mean_duration_s, 0) AS mean_duration_s
FROM hours LEFT JOIN v USING (hour)
ORDER BY hours.hour
