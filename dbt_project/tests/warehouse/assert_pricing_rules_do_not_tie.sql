-- Two rules with the same scope, priority and match columns must not be in effect on the same
-- day: the most specific rule would then be decided by rule_id alone.
with pricing_rules as (

    select * from {{ ref('pricing_rules') }}

)

select
    earlier.rule_id as earlier_rule_id,
    later.rule_id as later_rule_id,
    earlier.scope,
    earlier.priority
from pricing_rules as earlier
inner join pricing_rules as later
    on earlier.rule_id < later.rule_id
    and earlier.scope = later.scope
    and earlier.priority = later.priority
    and coalesce(earlier.customer_id, '') = coalesce(later.customer_id, '')
    and coalesce(earlier.usage_account_id, '') = coalesce(later.usage_account_id, '')
    and coalesce(earlier.product_code, '') = coalesce(later.product_code, '')
    and coalesce(earlier.usage_type_pattern, '') = coalesce(later.usage_type_pattern, '')
where (earlier.effective_to is null or earlier.effective_to > later.effective_from)
    and (later.effective_to is null or later.effective_to > earlier.effective_from)
