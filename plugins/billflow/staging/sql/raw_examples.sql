-- Up to three raw lines of one file that fail a raw check, for the failure message: the line item id
-- (null when the file has none) and the offending value as text.
select distinct
    $line_item_id as line_item_id,
    cast($value as varchar) as value
from raw_delivery
where billflow_source_file = $file and ($condition)
order by 1, 2
limit 3
