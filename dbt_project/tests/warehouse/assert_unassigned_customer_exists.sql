-- The catch-all customer must exist: unmapped accounts are billed to it.
with unassigned as (

    select count(*) as customer_count
    from {{ ref('customers') }}
    where customer_id = 'unassigned'

)

select customer_count
from unassigned
where customer_count <> 1
