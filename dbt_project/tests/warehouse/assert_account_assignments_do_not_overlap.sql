-- An account belongs to at most one customer on any usage date.
with assignments as (

    select * from {{ ref('account_assignments') }}

)

select
    earlier.usage_account_id,
    earlier.customer_id as earlier_customer_id,
    earlier.effective_from as earlier_effective_from,
    earlier.effective_to as earlier_effective_to,
    later.customer_id as later_customer_id,
    later.effective_from as later_effective_from
from assignments as earlier
inner join assignments as later
    on earlier.usage_account_id = later.usage_account_id
    and earlier.effective_from < later.effective_from
where earlier.effective_to is null
    or earlier.effective_to > later.effective_from
