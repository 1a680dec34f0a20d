-- The exact duplicate check, run when raw_duplicate_keys.sql found a repeated hash: the pairs
-- (identity_line_item_id, identity_time_interval) on more than one raw line. One row per file holding
-- such lines (kind 'file'), up to three example pairs (kind 'pair') and the totals (kind 'total').
with repeated_hashes as (
    select $key_hash as key_hash
    from raw_delivery
    group by 1
    having count(*) > 1
),

candidates as (
    select
        billflow_source_file as source_file,
        identity_line_item_id,
        identity_time_interval
    from raw_delivery
    where $key_hash in (select key_hash from repeated_hashes)
),

duplicated as (
    select
        identity_line_item_id,
        identity_time_interval,
        count(*) as line_count
    from candidates
    group by 1, 2
    having count(*) > 1
)

select
    'file' as kind,
    candidates.source_file,
    cast(null as varchar) as identity_line_item_id,
    cast(null as varchar) as identity_time_interval,
    count(*) as line_count,
    cast(null as bigint) as pair_count
from candidates
inner join duplicated
    on
        candidates.identity_line_item_id is not distinct from duplicated.identity_line_item_id
        and candidates.identity_time_interval is not distinct from duplicated.identity_time_interval
group by candidates.source_file

union all

select
    'pair' as kind,
    cast(null as varchar) as source_file,
    identity_line_item_id,
    identity_time_interval,
    line_count,
    cast(null as bigint) as pair_count
from (
    select *
    from duplicated
    order by identity_line_item_id, identity_time_interval
    limit 3
) as examples

union all

select
    'total' as kind,
    cast(null as varchar) as source_file,
    cast(null as varchar) as identity_line_item_id,
    cast(null as varchar) as identity_time_interval,
    cast(sum(line_count) as bigint) as line_count,
    count(*) as pair_count
from duplicated
