-- The chain roll-up: every shop's day side by side (chain.py). The day views hold every shop's rows.

-- name: chain_daily
SELECT r.shop, r.day,
       coalesce(v.visits, 0) AS visits,
       coalesce(v.customers, 0) AS customers,
       r.revenue,
       r.unpaid_amount AS unpaid,
       r.transactions,
       (SELECT count(*) FROM repeat_defaulters d WHERE d.shop = r.shop AND d.day = r.day) AS repeat_defaulters
FROM daily_revenue r
LEFT JOIN daily_visits v USING (shop, day)
ORDER BY r.shop

-- name: chain_hours
SELECT shop, day, hour, visits, transactions, amount FROM peak_hours ORDER BY shop, hour

-- name: month_per_shop
SELECT shop, sum(revenue) AS revenue, sum(unpaid) AS unpaid, sum(transactions) AS sales, sum(visits) AS visits,
       max(repeat_defaulters) AS repeat_defaulters, count(*) FILTER (WHERE transactions > 0) AS trading_days
FROM chain_daily
WHERE day BETWEEN $start AND $end
GROUP BY shop
ORDER BY revenue DESC, shop

-- name: month_hours
SELECT hour, round(avg(visits), 2) AS visits_per_shop_day, round(avg(transactions), 2) AS sales_per_shop_day,
       count(DISTINCT shop) AS shops
FROM chain_hours
WHERE day BETWEEN $start AND $end
GROUP BY hour
HAVING sum(visits) + sum(transactions) > 0
ORDER BY visits_per_shop_day DESC, hour

-- name: month_totals
SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(unpaid), 0) AS unpaid, coalesce(sum(visits), 0) AS visits,
       count(DISTINCT shop) AS shops
FROM chain_daily
WHERE day BETWEEN $start AND $end
