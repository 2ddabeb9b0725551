-- Each identity's latest registry row: the registry as it stands after the last processed day.
-- partitioned: none
SELECT *
FROM {{ ref('customer_registry') }}
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY day DESC) = 1
ORDER BY customer_id
