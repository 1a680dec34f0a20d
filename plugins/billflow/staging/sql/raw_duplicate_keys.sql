-- Cheap first pass of the duplicate check: how many hashes of (identity_line_item_id,
-- identity_time_interval) occur on more than one raw line. Two lines with the same pair always share a
-- hash, so 0 proves there is no duplicate; anything else is confirmed pair by pair (raw_duplicates.sql):
-- a hash collision can make the check slower, never hide a duplicate.
select count(*) as repeated_hashes
from (
    select $key_hash as key_hash
    from $relation
    group by 1
    having count(*) > 1
) as repeated
