-- Visits that did not pay: walk-outs (a customer visit with no linked sale) beside visits whose sale was unpaid.
-- partitioned: daily
SELECT v.day, v.visit_id, v.customer_id, v.entry_time, v.exit_time, v.duration_seconds, v.best_crop_path,
       'walk-out (no sale)' AS kind, NULL::VARCHAR AS transaction_id, NULL::DOUBLE AS amount
FROM {{ ref('visit_log') }} v
WHERE v.day = {{ day }} AND NOT v.is_staff
  AND NOT EXISTS (SELECT 1 FROM {{ ref('transaction_links') }} l WHERE l.day = v.day AND l.visit_id = v.visit_id)
UNION ALL
SELECT t.day, l.visit_id, coalesce(l.customer_id, t.customer_id), v.entry_time, v.exit_time, v.duration_seconds, v.best_crop_path,
       'unpaid sale' AS kind, t.transaction_id, t.amount
FROM {{ ref('transactions') }} t
JOIN {{ ref('transaction_links') }} l ON l.day = t.day AND l.transaction_id = t.transaction_id
LEFT JOIN {{ ref('visit_log') }} v ON v.day = l.day AND v.visit_id = l.visit_id
WHERE t.day = {{ day }} AND t.payment_status = 'Unpaid'
ORDER BY entry_time NULLS LAST
