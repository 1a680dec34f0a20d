-- Every bridge row adds up exactly (decimal(38,10), so to the cent and beyond): the basis
-- rule turns the staged cost into the pre-pricing cost, and the named deltas lead from the
-- pre-pricing cost to the invoiced amount.
select *
from {{ ref('billing_bridge') }}
where staged_amortized_cost + basis_delta <> basis_cost
    or basis_cost + rerating_delta + pass_through_delta + support_delta + pricing_delta
    + fx_delta + custom_items_delta + tax_delta + rounding_delta <> invoiced_amount
