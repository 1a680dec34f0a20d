-- Cheap first pass of the duplicate check: how many raw lines have the same hash of
-- (identity_line_item_id, identity_time_interval) as the line before them in hash order (a sort of one
-- 64-bit number per line: cheaper than grouping millions of keys). Two lines with the same pair always
-- share a hash, so 0 proves there is no duplicate; anything else is confirmed pair by pair
-- (raw_duplicates.sql): a hash collision can make the check slower, never hide a duplicate.
select count(*) as repeated_lines
from (
    select
        key_hash,
        lag(key_hash) over (order by key_hash) as previous_hash
    from (
        select $key_hash as key_hash
        from raw_delivery
    ) as hashed
) as ordered
where key_hash = previous_hash
