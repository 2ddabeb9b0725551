-- The owner's reports: what the daily and monthly pages and their charts show. Run by report_data.py against
-- the tables each report asset declares; parameters: $day, or $start and $end (inclusive days).

-- name: top_customers
SELECT customer_id, count(*) AS visits
FROM visit_log
WHERE NOT is_staff AND customer_id IS NOT NULL AND day BETWEEN $start AND $end
GROUP BY 1
ORDER BY visits DESC, customer_id
LIMIT 10

-- name: visits_per_hour_of_day
SELECT hour, visits, transactions FROM peak_hours WHERE day = $day ORDER BY hour

-- name: visits_per_hour_of_period
SELECT hour, sum(visits) AS visits, sum(transactions) AS transactions
FROM peak_hours
WHERE day BETWEEN $start AND $end
GROUP BY hour
ORDER BY hour

-- name: daily_trend
SELECT day, visits, customers FROM daily_visits WHERE day BETWEEN $start AND $end ORDER BY day

-- name: new_vs_returning_trend
SELECT day, new_customers, returning_customers
FROM new_vs_returning
WHERE day BETWEEN $start AND $end
ORDER BY day

-- name: spend_per_customer
SELECT coalesce(l.customer_id, t.customer_id) AS customer_id, sum(t.amount) AS billed_amount
FROM transactions t
LEFT JOIN transaction_links l USING (day, transaction_id)
WHERE t.day BETWEEN $start AND $end AND coalesce(l.customer_id, t.customer_id) IS NOT NULL
GROUP BY 1
ORDER BY 2 DESC
LIMIT 10

-- name: payment_modes
SELECT payment_mode, sum(amount) AS amount
FROM payment_summary
WHERE day BETWEEN $start AND $end
GROUP BY 1
ORDER BY 2 DESC

-- name: cans_per_day
SELECT day, can_size, cans FROM cans_per_day WHERE day BETWEEN $start AND $end ORDER BY day

-- name: unpaid_trend
SELECT r.day, r.unpaid_amount, coalesce(w.walkouts, 0) AS walkouts
FROM daily_revenue r
LEFT JOIN (
    SELECT day, count(*) AS walkouts FROM unpaid_visits WHERE kind LIKE 'walk-out%' GROUP BY day
) w USING (day)
WHERE r.day BETWEEN $start AND $end
ORDER BY r.day

-- name: day_revenue
SELECT * FROM daily_revenue WHERE day = $day

-- name: day_visits
SELECT * FROM daily_visits WHERE day = $day

-- name: day_new_vs_returning
SELECT * FROM new_vs_returning WHERE day = $day

-- name: day_shop_hours
SELECT * FROM shop_hours WHERE day = $day

-- name: day_peak_hours
SELECT hour, visits, transactions, amount, is_peak, is_idle FROM peak_hours WHERE day = $day ORDER BY hour

-- name: day_unpaid
SELECT kind, coalesce(customer_id, 'unidentified (no face seen)') AS customer_id, strftime(entry_time, '%H:%M') AS at,
       transaction_id, amount, best_crop_path AS photo
FROM unpaid_visits
WHERE day = $day
ORDER BY entry_time

-- name: day_defaulters
SELECT customer_id, unpaid_count, amount_owed, strftime(last_unpaid, '%Y-%m-%d') AS last_unpaid,
       best_crop_path AS photo
FROM repeat_defaulters
WHERE day = $day
ORDER BY amount_owed DESC

-- name: day_payment_modes
SELECT payment_mode, transactions, amount, unpaid_amount FROM payment_summary WHERE day = $day ORDER BY amount DESC

-- name: period_revenue
SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(unpaid_amount), 0) AS unpaid,
       coalesce(sum(transactions), 0) AS tx, coalesce(sum(cans), 0) AS cans, coalesce(sum(litres), 0) AS litres,
       count(*) FILTER (WHERE transactions > 0) AS trading_days
FROM daily_revenue
WHERE day BETWEEN $start AND $end

-- name: period_paid_revenue
SELECT coalesce(sum(revenue), 0) AS revenue FROM daily_revenue WHERE day BETWEEN $start AND $end

-- name: period_visits
SELECT count(*) AS visits, count(DISTINCT customer_id) AS customers
FROM visit_log
WHERE NOT is_staff AND day BETWEEN $start AND $end

-- name: period_new_customers
SELECT coalesce(sum(new_customers), 0) AS n FROM new_vs_returning WHERE day BETWEEN $start AND $end

-- name: period_hours
SELECT hour, round(avg(visits), 2) AS visits_per_day, round(avg(transactions), 2) AS sales_per_day
FROM peak_hours
WHERE day BETWEEN $start AND $end
GROUP BY hour
HAVING sum(visits) + sum(transactions) > 0
ORDER BY hour

-- name: period_defaulters
SELECT customer_id, max(unpaid_count) AS unpaid_count, max(amount_owed) AS amount_owed,
       arg_max(best_crop_path, day) AS photo
FROM repeat_defaulters
WHERE day BETWEEN $start AND $end
GROUP BY 1
ORDER BY amount_owed DESC

-- name: period_per_day
SELECT r.day, r.transactions, r.revenue, r.unpaid_amount, v.visits, v.customers
FROM daily_revenue r
LEFT JOIN daily_visits v USING (day)
WHERE r.day BETWEEN $start AND $end
ORDER BY r.day
