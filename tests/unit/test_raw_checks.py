"""The raw inspection (billflow.staging.raw_checks): what a delivery's raw files hold that would silently
change an invoice fails the gate (or stops staging), naming the payer, the period, the file and the values.

Every delivery here is tests/rawcur.py's twelve lines (li-01 .. li-12, USD, 2026-09) with one thing
changed; the expected figures are worked out by hand from RAW_LINES."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.engines.query import RAW_DELIVERY, RAW_FILE_COLUMN
from billflow.formats.manifest import Delivery
from billflow.quality.gate import GateFailed, enforce_gate
from billflow.rules import RuleSetError, invoice_currencies, unconvertible_invoice_currencies
from billflow.staging import raw_checks, stage
from billflow.staging.columns import REQUIRED_MONEY
from billflow.staging.raw_checks import RawChecks, inspect_delivery
from billflow.staging.stage import (
    StagingError,
    read_candidate,
    read_candidate_tags,
    read_raw_checks,
    stage_delivery,
)
from billflow.storage.local import LocalStore
from tests.rawcur import EXPECTED_TOTALS, PAYER, raw_table, write_raw

PERIOD = date(2026, 9, 1)
KEY = f"{PAYER}/cur/cur/year=2026/month=9/cur-00001.snappy.parquet"
KEY_2 = f"{PAYER}/cur/cur/year=2026/month=9/cur-00002.snappy.parquet"
MANIFEST = f"{PAYER}/cur/20260901-20261001/cur-Manifest.json"
SUMMARY = f"staging gate failed for payer {PAYER}, period 2026-09"
NOT_STAGED = f"cannot stage payer {PAYER}, period 2026-09, manifest {MANIFEST}:"
USD_ONLY = ["acme,USD,2020-01-01,"]

# row of each line item id in raw_table()
LI = {f"li-{number:02d}": number - 1 for number in range(1, 13)}


def rule_set(tmp_path, customers=USD_ONLY, fx_rates=()):
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "customers.csv").write_text(
        "\n".join(["customer_id,currency_code,effective_from,effective_to", *customers]) + "\n"
    )
    (folder / "fx_rates.csv").write_text("\n".join(["billing_period,from_currency,to_currency,rate", *fx_rates]) + "\n")
    return folder


def with_values(table, column, values_by_row, type_=None):
    """The table with some rows of `column` replaced ({row: value}); `type_` retypes the column."""
    values = table.column(column).to_pylist()
    for row, value in values_by_row.items():
        values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, column, pa.array(values, type_ or table.schema.field(column).type))


def delivery(*keys):
    return Delivery(PAYER, PERIOD, "assembly-1", "legacy", "cur", MANIFEST, tuple(f"s3://bucket/{k}" for k in keys))


def land(tmp_path, *tables):
    keys = [KEY, KEY_2][: len(tables)]
    for key, table in zip(keys, tables, strict=True):
        write_raw(tmp_path / "landing" / key, table)
    return delivery(*keys)


def stage_files(tmp_path, *tables, rules=None):
    staged = LocalStore(tmp_path / "staged")
    result = stage_delivery(
        land(tmp_path, *tables),
        LocalStore(tmp_path / "landing"),
        staged,
        DuckDBEngine(threads=1),
        rules_dir=rules or rule_set(tmp_path),
    )
    return staged, result


def gate(staged, version):
    candidate, raw_totals = read_candidate(staged, version)
    return enforce_gate(
        candidate,
        raw_totals,
        raw_checks=read_raw_checks(staged, version),
        payer_account_id=PAYER,
        billing_period=PERIOD,
        tag_costs=read_candidate_tags(staged, version),
    )


def gate_failures(tmp_path, *tables, rules=None):
    """The lines of the gate's failure for a delivery of these files."""
    staged, result = stage_files(tmp_path, *tables, rules=rules)
    with pytest.raises(GateFailed) as failed:
        gate(staged, result.version)
    lines = str(failed.value).splitlines()
    assert lines[0].startswith(f"{SUMMARY}: {len(lines) - 1} failures in ")
    return lines[1:]


def staging_failure(tmp_path, *tables):
    with pytest.raises(StagingError) as failed:
        stage_files(tmp_path, *tables)
    assert LocalStore(tmp_path / "staged").list_keys() == []  # no version is left behind
    return str(failed.value).splitlines()


def totals_by_type(raw_totals):
    return {
        row["line_item_type"]: (
            row["raw_row_count"],
            str(row["unblended_cost"].quantize(Decimal("0.01"))),
            str(row["amortized_cost"].quantize(Decimal("0.01"))),
        )
        for row in raw_totals.to_pylist()
    }


# ---------------------------------------------------------------- clean lines


def test_clean_lines_have_no_findings_raw_totals_equal_the_hand_figures_and_pass_the_gate(tmp_path):
    staged, result = stage_files(tmp_path, raw_table())

    _, raw_totals = read_candidate(staged, result.version)
    checks = read_raw_checks(staged, result.version)
    assert result.findings == () and checks.findings == ()
    assert checks.files == ((KEY, 12),)
    assert totals_by_type(raw_totals) == EXPECTED_TOTALS
    assert result.raw_rows == 12
    assert gate(staged, result.version).passed


def test_raw_checks_json_reads_back_as_written(tmp_path):
    staged, result = stage_files(tmp_path, raw_table(), with_values(raw_table(), "line_item_usage_amount", {0: -1.0}))
    checks = read_raw_checks(staged, result.version)

    assert RawChecks.from_json(checks.to_json()) == checks
    assert [finding.check for finding in checks.findings] == ["duplicate_line_item", "negative_usage"]
    with pytest.raises(ValueError, match="raw checks document is malformed"):
        RawChecks.from_json(b'{"payer_account_id": 1}')


# ---------------------------------------------------------------- raw totals do not come from the projection


def test_a_projection_that_drops_lines_is_caught_by_the_raw_totals(tmp_path, monkeypatch):
    projection = stage.typed_projection

    def drops_tax(*args, **kwargs):
        return f"(select * from {projection(*args, **kwargs)} where line_item_line_item_type <> 'Tax') as broken"

    monkeypatch.setattr(stage, "typed_projection", drops_tax)

    assert gate_failures(tmp_path, raw_table()) == [
        "  - line item type Tax: in raw (1 row, unblended 0.33, amortized 0.33) but missing from staged"
    ]


def test_a_projection_that_reads_a_cost_wrong_is_caught_by_the_raw_totals(tmp_path, monkeypatch):
    projection = stage.typed_projection

    def credits_are_free(*args, **kwargs):
        return (
            f"(select * replace (case when line_item_line_item_type = 'Credit' then 0 else line_item_unblended_cost "
            f"end as line_item_unblended_cost) from {projection(*args, **kwargs)}) as broken"
        )

    monkeypatch.setattr(stage, "typed_projection", credits_are_free)

    assert gate_failures(tmp_path, raw_table()) == [
        "  - line item type Credit: staged unblended 0.00 != raw -3.00 (difference 3.00)",
        "  - line item type Credit: staged amortized 0.00 != raw -3.00 (difference 3.00)",
    ]


def test_row_counts_come_from_the_parquet_footers(tmp_path, monkeypatch):
    footer = DuckDBEngine.parquet_footer

    def one_more_row(self, uri):
        found = footer(self, uri)
        return type(found)(found.uri, found.num_rows + 1, found.columns)

    monkeypatch.setattr(DuckDBEngine, "parquet_footer", one_more_row)

    assert gate_failures(tmp_path, raw_table()) == [
        f"  - file {KEY}: its Parquet footer counts 13 rows but the raw aggregate read 12"
    ]


# ---------------------------------------------------------------- duplicates


def test_a_line_item_delivered_twice_fails_the_gate_naming_both_files(tmp_path):
    copy = raw_table().slice(LI["li-03"], 1)  # SavingsPlanCoveredUsage, 2026-09-02 00:00

    assert gate_failures(tmp_path, raw_table(), copy) == [
        "  - 1 line item occurs more than once (same identity_line_item_id and identity_time_interval), "
        f"2 lines in all, in files {KEY}, {KEY_2} "
        "(e.g. 'li-03' 2026-09-02T00:00:00Z/2026-09-02T01:00:00Z (2 lines))"
    ]


def test_duplicates_inside_one_file_are_counted_with_examples(tmp_path):
    table = raw_table()
    twice = pa.concat_tables([table, table.slice(LI["li-01"], 1), table.slice(LI["li-12"], 1)])
    thrice = pa.concat_tables([twice, table.slice(LI["li-12"], 1)])

    assert gate_failures(tmp_path, thrice) == [
        "  - 2 line items occur more than once (same identity_line_item_id and identity_time_interval), "
        f"5 lines in all, in file {KEY} "
        "(e.g. 'li-01' 2026-09-01T10:00:00Z/2026-09-01T11:00:00Z (2 lines), "
        "'li-12' 2026-09-05T00:00:00Z/2026-09-05T01:00:00Z (3 lines))"
    ]


def test_the_same_line_item_id_in_another_time_interval_is_not_a_duplicate(tmp_path):
    table = with_values(raw_table(), "identity_line_item_id", {LI["li-02"]: "li-01"})  # other hour, same id

    _, result = stage_files(tmp_path, table)

    assert result.findings == ()


def test_a_hash_collision_never_hides_a_duplicate_nor_makes_one(tmp_path, monkeypatch):
    monkeypatch.setattr(raw_checks, "KEY_HASH", "42")  # every pair collides

    _, clean = stage_files(tmp_path / "clean", raw_table())
    _, doubled = stage_files(tmp_path / "doubled", raw_table(), raw_table().slice(LI["li-05"], 1))

    assert clean.findings == ()
    assert [finding.message for finding in doubled.findings] == [
        "1 line item occurs more than once (same identity_line_item_id and identity_time_interval), "
        f"2 lines in all, in files {KEY}, {KEY_2} "
        "(e.g. 'li-05' 2026-09-02T00:00:00Z/2026-09-02T01:00:00Z (2 lines))"
    ]


def test_files_without_identity_columns_fail_the_gate(tmp_path):
    table = raw_table().drop_columns(["identity_line_item_id", "identity_time_interval"])

    assert gate_failures(tmp_path, raw_table(), table.slice(0, 2)) == [
        f"  - file {KEY_2} lacks identity_line_item_id, identity_time_interval: "
        "its duplicate line items cannot be found"
    ]


# ---------------------------------------------------------------- currency


def test_two_currencies_in_one_delivery_fail_the_gate(tmp_path):
    table = with_values(raw_table(), "line_item_currency_code", {LI["li-08"]: "EUR", LI["li-11"]: "EUR"})

    assert gate_failures(tmp_path, table) == [
        f"  - 2 currencies in one delivery: 'EUR' (2 lines in file {KEY}), 'USD' (10 lines in file {KEY})"
    ]


def test_lines_without_a_currency_fail_the_gate(tmp_path):
    table = with_values(raw_table(), "line_item_currency_code", {LI["li-09"]: None})

    assert gate_failures(tmp_path, table) == [
        f"  - 1 line without a line_item_currency_code in file {KEY}",
        "  - 1 row with null currency_code",
    ]


def test_a_currency_with_no_rate_to_an_invoice_currency_fails_the_gate(tmp_path):
    rules = rule_set(
        tmp_path,
        customers=["acme,USD,2020-01-01,", "umbrella,KRW,2020-01-01,", "wayne,KRW,2026-09-01,"],
        fx_rates=["2026-10-01,USD,KRW,1401.375", "2026-09-01,EUR,KRW,1500", "2026-09-01,KRW,USD,0.0007"],
    )

    assert gate_failures(tmp_path, raw_table(), rules=rules) == [
        f"  - the delivery's currency USD (file {KEY}) cannot be converted to KRW, the invoice currency of "
        "customers umbrella, wayne: rules/fx_rates.csv has no USD -> KRW rate for 2026-09 or an earlier month"
    ]


def test_a_rate_of_an_earlier_month_converts_the_delivery_currency(tmp_path):
    rules = rule_set(
        tmp_path, customers=["acme,USD,2020-01-01,", "umbrella,KRW,2020-01-01,"], fx_rates=["2026-07-01,USD,KRW,1380"]
    )

    staged, result = stage_files(tmp_path, raw_table(), rules=rules)

    assert result.findings == ()
    assert gate(staged, result.version).passed


def test_only_the_customers_terms_in_force_for_the_period_need_a_rate(tmp_path):
    rules = rule_set(
        tmp_path,
        customers=[
            "acme,USD,2020-01-01,",
            "umbrella,KRW,2020-01-01,2026-09-01",  # moved to USD from September on
            "umbrella,USD,2026-09-01,",
            "wayne,JPY,2026-10-01,",  # not a customer yet
        ],
    )

    assert invoice_currencies(rules, PERIOD) == {"USD": ("acme", "umbrella")}
    assert invoice_currencies(rules, date(2026, 8, 1)) == {"KRW": ("umbrella",), "USD": ("acme",)}
    assert unconvertible_invoice_currencies(rules, "USD", date(2026, 10, 1)) == {"JPY": ("wayne",)}
    assert unconvertible_invoice_currencies(rules, "USD", PERIOD) == {}


def test_a_rule_set_with_a_bad_currency_code_is_refused_with_its_line(tmp_path):
    rules = rule_set(tmp_path, customers=["acme,USD,2020-01-01,", "umbrella,krw,2020-01-01,"])

    with pytest.raises(RuleSetError, match=r"customers\.csv line 3: currency_code 'krw' is not an ISO 4217"):
        invoice_currencies(rules, PERIOD)


# ---------------------------------------------------------------- negative usage


def test_negative_usage_on_usage_lines_fails_the_gate_with_line_item_ids(tmp_path):
    table = with_values(raw_table(), "line_item_usage_amount", {LI["li-01"]: -2.5, LI["li-02"]: -0.25})
    table = with_values(table, "line_item_usage_amount", {LI["li-12"]: -1.0})  # a Credit: may be negative

    assert gate_failures(tmp_path, table) == [
        f"  - file {KEY}: 2 Usage lines with a negative line_item_usage_amount (e.g. 'li-01' -2.5, 'li-02' -0.25)"
    ]


# ---------------------------------------------------------------- money columns


def test_the_required_money_table_is_the_amortized_rule_and_re_ratings_columns():
    assert REQUIRED_MONEY == {
        "*": ("line_item_unblended_cost",),
        "SavingsPlanCoveredUsage": ("savings_plan_savings_plan_effective_cost", "pricing_public_on_demand_cost"),
        "SavingsPlanRecurringFee": ("savings_plan_total_commitment_to_date", "savings_plan_used_commitment"),
        "DiscountedUsage": ("reservation_effective_cost", "pricing_public_on_demand_cost"),
        "RIFee": ("reservation_unused_amortized_upfront_fee_for_billing_period", "reservation_unused_recurring_fee"),
    }


# column dropped -> the gate's failures: the finding, and where the column feeds the amortized rule, the
# reconciliation that cannot compare (the raw total is null where staging would have read 0)
MISSING = {
    "savings_plan_savings_plan_effective_cost": [
        f"file {KEY} lacks savings_plan_savings_plan_effective_cost, which its 1 SavingsPlanCoveredUsage line needs",
        "line item type SavingsPlanCoveredUsage: cannot compare amortized cost: raw total is null",
    ],
    "pricing_public_on_demand_cost": [
        f"file {KEY} lacks pricing_public_on_demand_cost, which its 1 DiscountedUsage line needs",
        f"file {KEY} lacks pricing_public_on_demand_cost, which its 1 SavingsPlanCoveredUsage line needs",
    ],
    "savings_plan_total_commitment_to_date": [
        f"file {KEY} lacks savings_plan_total_commitment_to_date, which its 1 SavingsPlanRecurringFee line needs",
        "line item type SavingsPlanRecurringFee: cannot compare amortized cost: raw total is null",
    ],
    "savings_plan_used_commitment": [
        f"file {KEY} lacks savings_plan_used_commitment, which its 1 SavingsPlanRecurringFee line needs",
        "line item type SavingsPlanRecurringFee: cannot compare amortized cost: raw total is null",
    ],
    "reservation_effective_cost": [
        f"file {KEY} lacks reservation_effective_cost, which its 1 DiscountedUsage line needs",
        "line item type DiscountedUsage: cannot compare amortized cost: raw total is null",
    ],
    "reservation_unused_amortized_upfront_fee_for_billing_period": [
        f"file {KEY} lacks reservation_unused_amortized_upfront_fee_for_billing_period, which its 1 RIFee line needs",
        "line item type RIFee: cannot compare amortized cost: raw total is null",
    ],
    "reservation_unused_recurring_fee": [
        f"file {KEY} lacks reservation_unused_recurring_fee, which its 1 RIFee line needs",
        "line item type RIFee: cannot compare amortized cost: raw total is null",
    ],
}


@pytest.mark.parametrize("column", sorted(MISSING))
def test_a_money_column_missing_while_lines_need_it_fails_the_gate(tmp_path, column):
    assert gate_failures(tmp_path, raw_table().drop_columns([column])) == [f"  - {m}" for m in MISSING[column]]


def test_a_money_column_missing_from_a_file_without_lines_that_need_it_passes(tmp_path):
    usage_only = raw_table().slice(0, 2).drop_columns(["reservation_effective_cost", "savings_plan_used_commitment"])
    usage_only = with_values(usage_only, "identity_line_item_id", {0: "li-13", 1: "li-14"})

    _, result = stage_files(tmp_path, raw_table(), usage_only)

    assert result.findings == ()


def test_the_unblended_cost_missing_from_a_file_stops_staging_naming_the_file(tmp_path):
    second = raw_table().slice(0, 1).drop_columns(["line_item_unblended_cost"])

    assert staging_failure(tmp_path, raw_table(), with_values(second, "identity_line_item_id", {0: "li-13"})) == [
        NOT_STAGED,
        f"  - file {KEY_2} lacks the required column line_item_unblended_cost",
    ]


# line item id made null -> the gate's failures (the finding; the reconciliation where the amortized rule reads it)
NULL = {
    "line_item_unblended_cost": (
        "li-01",
        [f"file {KEY}: 1 line with a null line_item_unblended_cost (e.g. line items 'li-01')"],
    ),
    "savings_plan_savings_plan_effective_cost": (
        "li-03",
        [
            f"file {KEY}: 1 SavingsPlanCoveredUsage line with a null savings_plan_savings_plan_effective_cost "
            "(e.g. line items 'li-03')",
            "line item type SavingsPlanCoveredUsage: cannot compare amortized cost: raw total is null",
        ],
    ),
    "pricing_public_on_demand_cost": (
        "li-06",
        [f"file {KEY}: 1 DiscountedUsage line with a null pricing_public_on_demand_cost (e.g. line items 'li-06')"],
    ),
    "savings_plan_total_commitment_to_date": (
        "li-05",
        [
            f"file {KEY}: 1 SavingsPlanRecurringFee line with a null savings_plan_total_commitment_to_date "
            "(e.g. line items 'li-05')",
            "line item type SavingsPlanRecurringFee: cannot compare amortized cost: raw total is null",
        ],
    ),
    "savings_plan_used_commitment": (
        "li-05",
        [
            f"file {KEY}: 1 SavingsPlanRecurringFee line with a null savings_plan_used_commitment "
            "(e.g. line items 'li-05')",
            "line item type SavingsPlanRecurringFee: cannot compare amortized cost: raw total is null",
        ],
    ),
    "reservation_effective_cost": (
        "li-06",
        [
            f"file {KEY}: 1 DiscountedUsage line with a null reservation_effective_cost (e.g. line items 'li-06')",
            "line item type DiscountedUsage: cannot compare amortized cost: raw total is null",
        ],
    ),
    "reservation_unused_amortized_upfront_fee_for_billing_period": (
        "li-07",
        [
            f"file {KEY}: 1 RIFee line with a null reservation_unused_amortized_upfront_fee_for_billing_period "
            "(e.g. line items 'li-07')",
            "line item type RIFee: cannot compare amortized cost: raw total is null",
        ],
    ),
    "reservation_unused_recurring_fee": (
        "li-07",
        [
            f"file {KEY}: 1 RIFee line with a null reservation_unused_recurring_fee (e.g. line items 'li-07')",
            "line item type RIFee: cannot compare amortized cost: raw total is null",
        ],
    ),
}


@pytest.mark.parametrize("column", sorted(NULL))
def test_a_null_money_value_on_a_line_that_needs_it_fails_the_gate(tmp_path, column):
    line_item, expected = NULL[column]

    table = with_values(raw_table(), column, {LI[line_item]: None})

    assert gate_failures(tmp_path, table) == [f"  - {m}" for m in expected]


def test_null_money_a_line_type_does_not_need_passes(tmp_path):
    table = with_values(raw_table(), "reservation_effective_cost", {LI["li-01"]: None, LI["li-09"]: None})
    table = with_values(table, "pricing_public_on_demand_cost", {LI["li-01"]: None, LI["li-09"]: None})

    staged, result = stage_files(tmp_path, table)

    assert result.findings == ()  # Usage li-01 and Tax li-09 are billed at their unblended cost
    assert gate(staged, result.version).passed


def test_many_null_costs_are_counted_with_three_examples(tmp_path):
    table = with_values(raw_table(), "line_item_unblended_cost", {row: None for row in range(0, 12, 2)})

    assert gate_failures(tmp_path, table) == [
        f"  - file {KEY}: 6 lines with a null line_item_unblended_cost (e.g. line items 'li-01', 'li-03', 'li-05')",
        # the types whose only lines lost their cost: the raw total is null where staging read 0
        "  - line item type RIFee: cannot compare unblended cost: raw total is null",
        "  - line item type SavingsPlanCoveredUsage: cannot compare unblended cost: raw total is null",
        "  - line item type SavingsPlanRecurringFee: cannot compare unblended cost: raw total is null",
        "  - line item type Tax: cannot compare unblended cost: raw total is null",
        "  - line item type Tax: cannot compare amortized cost: raw total is null",
    ]


# ---------------------------------------------------------------- values staging cannot read


def test_a_cost_that_is_not_a_number_stops_staging_naming_the_file_the_column_and_the_value(tmp_path):
    costs = [str(value) for value in raw_table().column("line_item_unblended_cost").to_pylist()]
    costs[LI["li-04"]] = "n/a"
    costs[LI["li-10"]] = "1,000.00"
    table = with_values(raw_table(), "line_item_unblended_cost", dict(enumerate(costs)), pa.string())

    assert staging_failure(tmp_path, table) == [
        NOT_STAGED,
        f"  - file {KEY}: 2 values of line_item_unblended_cost are not numbers (e.g. 'n/a', '1,000.00')",
    ]


def test_a_usage_date_that_is_not_a_timestamp_stops_staging(tmp_path):
    dates = [f"{value:%Y-%m-%d %H:%M:%S}" for value in raw_table().column("line_item_usage_start_date").to_pylist()]
    dates[LI["li-09"]] = "yesterday"
    table = with_values(raw_table(), "line_item_usage_start_date", dict(enumerate(dates)), pa.string())

    assert staging_failure(tmp_path, table) == [
        NOT_STAGED,
        f"  - file {KEY}: 1 value of line_item_usage_start_date is not a timestamp (e.g. 'yesterday')",
    ]


def test_a_file_lacking_a_required_column_stops_staging_naming_that_file(tmp_path):
    second = raw_table().slice(0, 1).drop_columns(["line_item_line_item_type", "line_item_product_code"])

    assert staging_failure(tmp_path, raw_table(), with_values(second, "identity_line_item_id", {0: "li-13"})) == [
        NOT_STAGED,
        f"  - file {KEY_2} lacks the required columns line_item_line_item_type, line_item_product_code",
    ]


def test_a_corrupt_parquet_file_stops_staging_naming_the_file(tmp_path):
    write_raw(tmp_path / "landing" / KEY, raw_table())
    (tmp_path / "landing" / KEY_2).write_bytes(b"PAR1 this is not a parquet file")

    with pytest.raises(StagingError) as failed:
        stage_delivery(
            delivery(KEY, KEY_2),
            LocalStore(tmp_path / "landing"),
            LocalStore(tmp_path / "staged"),
            DuckDBEngine(threads=1),
            rules_dir=rule_set(tmp_path),
        )

    assert str(failed.value).splitlines() == [
        NOT_STAGED,
        f"  - file {KEY_2}: not a readable Parquet file (Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.)",
    ]
    assert LocalStore(tmp_path / "staged").list_keys() == []


def test_a_file_the_engine_cannot_read_is_found_by_reading_each_file_alone(tmp_path, monkeypatch):
    query = DuckDBEngine.query

    def page_two_is_corrupt(self, sql, files):
        if "raw_lines" in sql and any(uri.endswith(KEY_2) for uri in files):
            raise OSError("corrupt data page")
        return query(self, sql, files)

    monkeypatch.setattr(DuckDBEngine, "query", page_two_is_corrupt)
    second = with_values(raw_table().slice(0, 1), "identity_line_item_id", {0: "li-13"})

    assert staging_failure(tmp_path, raw_table(), second) == [
        NOT_STAGED,
        f"  - file {KEY_2} cannot be read (OSError: corrupt data page)",
    ]


def test_an_engine_error_while_staging_names_the_delivery_and_its_files(tmp_path, monkeypatch):
    def fails(self, sql, destination_uri):
        raise OSError("No space left on device")

    monkeypatch.setattr(DuckDBEngine, "_copy", fails)  # writing a staged file

    with pytest.raises(StagingError) as failed:
        stage_files(tmp_path, raw_table(), raw_table().slice(0, 0))

    assert str(failed.value) == (
        f"cannot stage payer {PAYER}, period 2026-09, manifest {MANIFEST}, files {KEY}, {KEY_2}: "
        "OSError: No space left on device"
    )
    assert LocalStore(tmp_path / "staged").list_keys() == []


# ---------------------------------------------------------------- line item types


def test_an_unknown_line_item_type_fails_the_gate_naming_the_file_and_the_seed(tmp_path):
    table = with_values(raw_table(), "line_item_line_item_type", {LI["li-12"]: "BrandNewCharge"})

    assert gate_failures(tmp_path, table) == [
        f"  - file {KEY}: unknown line item type 'BrandNewCharge' (1 line): "
        "declare it in dbt_project/seeds/line_item_types.csv"
    ]


def test_the_inspection_alone_reports_the_line_item_types_of_each_file(tmp_path):
    second = with_values(raw_table().slice(0, 2), "identity_line_item_id", {0: "li-13", 1: "li-14"})

    inspection = inspect_delivery(
        land(tmp_path, raw_table(), second),
        LocalStore(tmp_path / "landing"),
        DuckDBEngine(threads=1),
        rules_dir=rule_set(tmp_path),
    )

    lines = {(entry.file, entry.line_item_type): entry.lines for entry in inspection.checks.line_item_types}
    assert lines[(KEY, "Refund")] == 2 and lines[(KEY_2, "Usage")] == 2 and len(lines) == 11
    assert inspection.checks.files == ((KEY, 12), (KEY_2, 2))
    assert totals_by_type(inspection.totals)["Usage"] == (4, "4.00", "4.00")


def test_the_raw_inspection_sql_means_the_same_in_trino_for_athena():
    """Each raw-inspection statement, transpiled to Trino (Athena's dialect) and parsed as Trino without an
    error, then brought back to DuckDB, gives the figures the original gives on the same lines (the
    duplicate check with a portable key in place of DuckDB's hash)."""
    import duckdb
    import sqlglot

    doubled = pa.concat_tables([raw_table(), raw_table().slice(LI["li-05"], 1)])
    lines = doubled.append_column(RAW_FILE_COLUMN, pa.array([f"s3://b/{KEY}"] * doubled.num_rows))
    present = set(lines.column_names)
    inspection, counts = raw_checks.render_inspection_sql(present, stage.fragment("amortized_cost"))
    portable_key = "coalesce(identity_line_item_id, '') || '|' || coalesce(identity_time_interval, '')"
    statements = [
        inspection,
        raw_checks.render_duplicate_keys_sql(portable_key),
        raw_checks.render_duplicates_sql(portable_key),
        raw_checks.render_examples_sql(f"s3://b/{KEY}", "line_item_usage_amount > 0", "line_item_usage_amount", True),
    ]
    con = duckdb.connect()
    con.register("arrow_lines", lines)
    con.execute(f"create table {RAW_DELIVERY} as select * from arrow_lines")

    for sql in statements:
        (trino,) = sqlglot.transpile(sql, read="duckdb", write="trino", error_level=sqlglot.ErrorLevel.RAISE)
        (back,) = sqlglot.transpile(trino, read="trino", write="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
        original = sorted(con.execute(sql).fetchall(), key=repr)  # a grouping gives its rows in no set order
        assert original and sorted(con.execute(back).fetchall(), key=repr) == original, trino
    assert "TRY_CAST" in sqlglot.transpile(inspection, read="duckdb", write="trino")[0]
    assert sorted(set(counts.values())) == sorted(
        {f"unreadable:{c}" for c, t in stage.RAW_COLUMNS.items() if t in ("decimal(38, 10)", "timestamp")}
        | {f"null:{c}" for columns in REQUIRED_MONEY.values() for c in columns}
        | {"negative_usage"}
    )
    assert con.execute(statements[1]).fetchall() == [(1,)]  # the doubled line repeats its key once


def test_parquet_footer_reads_rows_and_columns_without_the_engine(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), path)

    footer = DuckDBEngine(threads=1).parquet_footer(str(path))

    assert (footer.num_rows, footer.columns) == (3, ("a", "b"))
