-- A customer has at most one adjustment_pct on any usage date.
with pricing as (

    select * from {{ ref('customer_pricing') }}

)

select
    earlier.customer_id,
    earlier.effective_from as earlier_effective_from,
    earlier.effective_to as earlier_effective_to,
    later.effective_from as later_effective_from
from pricing as earlier
inner join pricing as later
    on earlier.customer_id = later.customer_id
    and earlier.effective_from < later.effective_from
where earlier.effective_to is null
    or earlier.effective_to > later.effective_from
