-- Returning customers: those seen on two or more days, with how many days and visits.
-- partitioned: none
SELECT customer_id, visits, days_seen, first_visit, last_visit, mean_days_between_visits
FROM {{ ref('customer_visit_counts') }}
WHERE days_seen >= 2
ORDER BY days_seen DESC, visits DESC, customer_id
