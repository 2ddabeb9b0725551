-- The day's unpaid sales with the customer linked from the camera where the till left it blank, and the face crop.
-- partitioned: daily
SELECT
    t.day, t.transaction_id, t."timestamp",
    coalesce(l.customer_id, t.customer_id) AS customer_id,
    l.camera_customer_id, l.confidence AS link_confidence,
    t.can_size, t.number_of_cans, t.amount,
    v.best_crop_path
FROM {{ ref('transactions') }} t
LEFT JOIN {{ ref('transaction_links') }} l ON l.day = t.day AND l.transaction_id = t.transaction_id
LEFT JOIN {{ ref('visit_log') }} v ON v.day = l.day AND v.visit_id = l.visit_id
WHERE t.day = {{ day }} AND t.payment_status = 'Unpaid'
ORDER BY t."timestamp"
