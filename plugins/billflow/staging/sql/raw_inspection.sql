-- One pass over a delivery's raw files, independent of the staging projection (typed_projection): per
-- file, line item type and currency, the lines, their unblended and amortized cost from the raw money
-- columns cast straight to decimal (try_cast: a value that is not a number is counted, never 0), and
-- what the raw checks count: unreadable values, null money, negative usage.
-- The line columns (built by billflow.staging.raw_checks.render_inspection_sql) are the canonical money
-- columns the amortized-cost rule reads, typed, and the raw value of each column a check counts in; the
-- counts compare them (count(raw) - count(typed): values that are not numbers; count(*) - count(raw):
-- lines without a value).
with raw_lines as (
    select
        $line_columns
    from raw_delivery as raw_file
)

select
    source_file,
    line_item_line_item_type as line_item_type,
    line_item_currency_code as currency_code,
    count(*) as line_count,
    cast(sum(line_item_unblended_cost) as decimal(38, 10)) as unblended_cost,
    cast(sum($amortized_cost) as decimal(38, 10)) as amortized_cost,
    $counts
from raw_lines
group by 1, 2, 3
