-- The asset checks' queries (checks.py). Each reads whole tables: a check looks at every day.

-- name: table_columns
SELECT table_name, column_name, data_type FROM information_schema.columns WHERE list_contains($tables, table_name)

-- name: duplicate_transaction_ids
-- Each shop's till numbers its own sales: an id is unique within its shop.
SELECT shop, transaction_id, count(*) AS n, list(DISTINCT day ORDER BY day) AS days
FROM transactions
GROUP BY shop, transaction_id
HAVING count(*) > 1
LIMIT 20

-- name: revenue_mismatches
WITH t AS (
    SELECT shop, day, sum(amount) AS billed,
           coalesce(sum(amount) FILTER (WHERE payment_status = 'Paid'), 0) AS paid
    FROM transactions
    GROUP BY shop, day
)
SELECT r.shop, r.day, r.billed_amount, coalesce(t.billed, 0) AS transactions_billed, r.revenue,
       coalesce(t.paid, 0) AS transactions_paid
FROM daily_revenue r
LEFT JOIN t USING (shop, day)
WHERE abs(r.billed_amount - coalesce(t.billed, 0)) > 0.005 OR abs(r.revenue - coalesce(t.paid, 0)) > 0.005
ORDER BY r.day

-- name: revenue_totals
SELECT count(*) AS days, coalesce(sum(revenue), 0) AS revenue FROM daily_revenue

-- name: rejects_per_day
WITH r AS (SELECT shop, day, count(*) AS rejected FROM transaction_rejects GROUP BY shop, day),
     t AS (SELECT shop, day, count(*) AS loaded FROM transactions GROUP BY shop, day)
SELECT shop, day, coalesce(loaded, 0) AS loaded, rejected,
       round(rejected / (coalesce(loaded, 0) + rejected), 3) AS share
FROM r
LEFT JOIN t USING (shop, day)
ORDER BY shop, day

-- name: new_repeat_defaulters
SELECT shop, customer_id, unpaid_count, amount_owed
FROM repeat_defaulters r
WHERE day = $day::DATE
  AND NOT EXISTS (
      SELECT 1 FROM repeat_defaulters p
      WHERE p.day = $day::DATE - 1 AND p.shop = r.shop AND p.customer_id = r.customer_id
  )

-- name: last_defaulter_day
SELECT max(day) AS d FROM repeat_defaulters
