-- The bridge starts at the staged CUR and ends at the invoices:
-- * per payer and billing period, its staged unblended and amortized cost (summed over the
--   customers) equal the staged partition's totals, and its pre-pricing cost is that staged
--   total on each customer's basis;
-- * per customer and billing period, its invoiced_amount equals the invoice total.
with

staged as (

    {{ staged_totals() }}

),

staged_on_basis as (

    -- the staged rows of each customer on its basis (customers without a row: amortized)
    select
        assigned.payer_account_id,
        assigned.billing_period,
        cast(
            sum(case when customers.basis = 'unblended' then assigned.unblended_cost else assigned.amortized_cost end)
            as decimal(38, 10)
        ) as basis_cost
    from {{ ref('int_costs_assigned_to_customers') }} as assigned
    left join {{ ref('int_customer_terms') }} as customers
        on assigned.customer_id = customers.customer_id
        and assigned.billing_period = customers.billing_period
    group by assigned.payer_account_id, assigned.billing_period

),

bridge_payers as (

    select
        payer_account_id,
        billing_period,
        cast(sum(staged_unblended_cost) as decimal(38, 10)) as unblended_cost,
        cast(sum(staged_amortized_cost) as decimal(38, 10)) as amortized_cost,
        cast(sum(basis_cost) as decimal(38, 10)) as basis_cost
    from {{ ref('billing_bridge') }}
    where bridge_level = 'payer'
    group by payer_account_id, billing_period

),

payer_differences as (

    select
        coalesce(staged.payer_account_id, bridge_payers.payer_account_id) as key_id,
        coalesce(staged.billing_period, bridge_payers.billing_period) as billing_period,
        cast('payer' as varchar(16)) as check_level
    from staged
    full outer join bridge_payers
        on staged.payer_account_id = bridge_payers.payer_account_id
        and staged.billing_period = bridge_payers.billing_period
    left join staged_on_basis
        on staged.payer_account_id = staged_on_basis.payer_account_id
        and staged.billing_period = staged_on_basis.billing_period
    where staged.amortized_cost is null
        or bridge_payers.amortized_cost is null
        or staged.amortized_cost <> bridge_payers.amortized_cost
        or staged.unblended_cost <> bridge_payers.unblended_cost
        or staged_on_basis.basis_cost is null
        or staged_on_basis.basis_cost <> bridge_payers.basis_cost

),

bridge_customers as (

    select
        customer_id,
        billing_period,
        cast(sum(invoiced_amount) as decimal(38, 10)) as invoiced_amount
    from {{ ref('billing_bridge') }}
    group by customer_id, billing_period

),

invoices as (

    select * from {{ ref('invoices') }}

),

invoice_differences as (

    select
        coalesce(invoices.customer_id, bridge_customers.customer_id) as key_id,
        coalesce(invoices.billing_period, bridge_customers.billing_period) as billing_period,
        cast('invoice' as varchar(16)) as check_level
    from invoices
    full outer join bridge_customers
        on invoices.customer_id = bridge_customers.customer_id
        and invoices.billing_period = bridge_customers.billing_period
    where invoices.total_amount is null
        or bridge_customers.invoiced_amount is null
        or invoices.total_amount <> bridge_customers.invoiced_amount

)

select * from payer_differences
union all
select * from invoice_differences
