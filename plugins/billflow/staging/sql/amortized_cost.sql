-- Amortized cost of one raw line (the CUDOS rule: docs/ARCHITECTURE.md, Amortized cost), over typed raw columns.
-- Refunds keep their unblended cost unless they refund a Savings Plan fee (they carry the plan's ARN),
-- so EDP refunds of ComputeSavingsPlans are not zeroed (CID issue 1497).
case
    when line_item_line_item_type = 'SavingsPlanCoveredUsage'
        then savings_plan_savings_plan_effective_cost
    when line_item_line_item_type = 'SavingsPlanRecurringFee'
        then savings_plan_total_commitment_to_date - savings_plan_used_commitment
    when line_item_line_item_type in ('SavingsPlanNegation', 'SavingsPlanUpfrontFee')
        then cast(0 as decimal(38, 10))
    when line_item_line_item_type = 'Refund' and savings_plan_savings_plan_a_r_n is not null
        then cast(0 as decimal(38, 10))
    when line_item_line_item_type = 'DiscountedUsage'
        then reservation_effective_cost
    when line_item_line_item_type = 'RIFee'
        then reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee
    when line_item_line_item_type = 'Fee' and reservation_reservation_a_r_n is not null
        then cast(0 as decimal(38, 10))
    else line_item_unblended_cost
end
