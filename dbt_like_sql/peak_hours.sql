-- Per day and hour: footfall from the camera next to sales from the till, with the day's peak hour and the idle hours (open but nobody came) marked.
-- partitioned: daily
WITH h AS (
    SELECT v.day, v.hour, v.visits, t.transactions, t.amount
    FROM {{ ref('visits_per_hour') }} v
    JOIN {{ ref('traffic_per_hour') }} t ON t.day = v.day AND t.hour = v.hour
    WHERE v.day = {{ day }}
),
bounds AS (
    SELECT hour(open_time) AS first_hour, hour(close_time) AS last_hour
    FROM {{ ref('shop_hours') }} WHERE day = {{ day }}
)
SELECT
    h.day, h.hour, h.visits, h.transactions, h.amount,
    h.visits > 0 AND h.visits = max(h.visits) OVER () AS is_peak,
    h.visits = 0 AND h.transactions = 0
        AND h.hour BETWEEN coalesce((SELECT first_hour FROM bounds), 7) AND coalesce((SELECT last_hour FROM bounds), 20) AS is_idle
FROM h
ORDER BY h.hour
