-- Per day: customers seen for the first time that day, and customers who had been seen before.
-- partitioned: daily
SELECT
    {{ day }} AS day,
    count(*) FILTER (WHERE is_new) AS new_customers,
    count(*) FILTER (WHERE NOT is_new) AS returning_customers,
    count(*) AS customers
FROM {{ ref('customer_registry') }}
WHERE day = {{ day }} AND NOT is_staff
