-- Totals straight from the raw lines, per line item type: what the staged partition must reconcile to.
select
    line_item_line_item_type as line_item_type,
    count(*) as raw_row_count,
    cast(sum(line_item_unblended_cost) as decimal(38, 10)) as unblended_cost,
    cast(sum($amortized_cost) as decimal(38, 10)) as amortized_cost
from $raw_lines
group by 1
