-- Customers (linked IDs) with two or more unpaid sales in the 30 days ending on the partition day, what they owe, and a face crop to recognise them by.
-- partitioned: daily
WITH sales AS (
    SELECT t.day, t."timestamp", t.amount, t.payment_status,
           coalesce(l.customer_id, t.customer_id) AS customer_id, l.camera_customer_id, l.confidence, v.best_crop_path
    FROM {{ ref('transactions', window_days=30) }} t
    LEFT JOIN {{ ref('transaction_links', window_days=30) }} l ON l.day = t.day AND l.transaction_id = t.transaction_id
    LEFT JOIN {{ ref('visit_log', window_days=30) }} v ON v.day = l.day AND v.visit_id = l.visit_id
    WHERE t.day BETWEEN {{ day }} - INTERVAL 29 DAY AND {{ day }}
)
SELECT
    {{ day }} AS day,
    customer_id,
    count(*) AS unpaid_count,
    sum(amount) AS amount_owed,
    min("timestamp") AS first_unpaid,
    max("timestamp") AS last_unpaid,
    arg_max(camera_customer_id, confidence) AS camera_customer_id,
    arg_max(best_crop_path, confidence) AS best_crop_path
FROM sales
WHERE payment_status = 'Unpaid' AND customer_id IS NOT NULL
GROUP BY customer_id
HAVING count(*) >= 2
ORDER BY amount_owed DESC, customer_id
