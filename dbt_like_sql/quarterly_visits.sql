-- Customer visits per calendar quarter, with distinct customers seen in the quarter.
-- partitioned: none
SELECT
    date_trunc('quarter', day)::DATE AS quarter_start,
    year(day) || '-Q' || quarter(day) AS quarter,
    count(*) AS visits,
    count(DISTINCT customer_id) AS customers
FROM {{ ref('visit_log') }}
WHERE NOT is_staff
GROUP BY 1, 2
ORDER BY 1
