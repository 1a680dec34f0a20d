"""The staging gate (billflow.quality.gate): GX suites in expectations/ on small exact tables."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from billflow import config
from billflow.formats.line_item_types import known_line_item_types
from billflow.quality import gate
from billflow.quality.gate import GateFailed, SuiteDefinitionError, check_staged_partition, enforce_gate
from billflow.staging.columns import STAGED_MONEY as MONEY
from billflow.staging.columns import STAGED_SCHEMA
from billflow.staging.raw_checks import CHECKS, RawChecks, RawFinding, TypeLines

PAYER = "111111111111"
PERIOD = dt.date(2026, 9, 1)
FILE = "111111111111/cur/data/part-1.parquet"

RAW_SCHEMA = pa.schema(
    [
        ("line_item_type", pa.string()),
        ("raw_row_count", pa.int64()),
        ("unblended_cost", MONEY),
        ("amortized_cost", MONEY),
    ]
)
SP_ARN = "arn:aws:savingsplans::111111111111:savingsplan/abc"


def staged_row(line_item_type, unblended, amortized, count, **overrides):
    row = {
        "billing_period": PERIOD,
        "payer_account_id": PAYER,
        "usage_account_id": "100000000001",
        "usage_date": dt.date(2026, 9, 3),
        "line_item_type": line_item_type,
        "product_code": "AmazonEC2",
        "usage_type": "BoxUsage:m5.large",
        "operation": "RunInstances",
        "region": "us-east-1",
        "currency_code": "USD",
        "bill_type": "Anniversary",
        "invoice_id": None,
        "commitment_arn": None,
        "usage_amount": Decimal("1.5"),
        "unblended_cost": Decimal(unblended),
        "amortized_cost": Decimal(amortized),
        "public_on_demand_cost": Decimal(unblended),
        "line_item_count": count,
        "manifest_id": "assembly-0001",
        "source_format": "legacy",
    }
    row.update(overrides)
    return row


def clean_rows():
    return [
        staged_row("Usage", "10.5000000000", "10.5000000000", 3),
        staged_row(
            "Usage",
            "2.25",
            "2.25",
            2,
            usage_account_id="100000000002",
            product_code="AmazonS3",
            usage_date=dt.date(2026, 9, 30),
        ),
        staged_row("SavingsPlanCoveredUsage", "4.00", "3.10", 4, commitment_arn=SP_ARN),
        staged_row("SavingsPlanNegation", "-4.00", "0", 4, commitment_arn=SP_ARN),
        staged_row("Tax", "1.23", "1.23", 1, product_code="AWSSupport", usage_date=dt.date(2026, 9, 1)),
        staged_row("Credit", "-5.00", "-5.00", 1),
    ]


def clean_raw():
    return [
        ("Usage", 5, "12.75", "12.75"),
        ("SavingsPlanCoveredUsage", 4, "4.00", "3.10"),
        ("SavingsPlanNegation", 4, "-4.00", "0"),
        ("Tax", 1, "1.23", "1.23"),
        ("Credit", 1, "-5.00", "-5.00"),
    ]


def staged(rows, schema=STAGED_SCHEMA):
    return pa.Table.from_pylist(rows, schema=schema)


def raw(entries):
    return pa.Table.from_pylist(
        [
            {
                "line_item_type": kind,
                "raw_row_count": count,
                "unblended_cost": None if unblended is None else Decimal(unblended),
                "amortized_cost": None if amortized is None else Decimal(amortized),
            }
            for kind, count, unblended, amortized in entries
        ],
        schema=RAW_SCHEMA,
    )


def raw_checks(entries, findings=(), payer=PAYER, period=PERIOD):
    """What the raw inspection of one file holding the raw entries' lines found."""
    return RawChecks(
        payer_account_id=payer,
        billing_period=period,
        manifest_id="assembly-0001",
        manifest_key="111111111111/cur/20260901-20261001/cur-Manifest.json",
        files=((FILE, sum(entry[1] for entry in entries)),),
        line_item_types=tuple(TypeLines(FILE, entry[0], entry[1]) for entry in entries),
        findings=tuple(findings),
    )


def check(rows, raw_entries, *, payer=PAYER, period=PERIOD, findings=(), results_dir=None):
    return check_staged_partition(
        staged(rows),
        raw(raw_entries),
        raw_checks=raw_checks(raw_entries, findings, payer, period),
        payer_account_id=payer,
        billing_period=period,
        results_dir=results_dir,
    )


def replace_raw(entries, kind, **changes):
    out = []
    for entry in entries:
        if entry[0] == kind:
            fields = dict(zip(("kind", "count", "unblended", "amortized"), entry, strict=True)) | changes
            entry = (fields["kind"], fields["count"], fields["unblended"], fields["amortized"])
        out.append(entry)
    return out


# ---------------------------------------------------------------- passing


def test_clean_partition_passes():
    result = check(clean_rows(), clean_raw())

    assert result.failures == []
    assert result.passed
    assert [s.name for s in result.suites] == ["staged_cur_daily", "staged_reconciliation"]
    assert all(s.failed == 0 for s in result.suites)
    # 9 raw checks + the raw checks' partition + line item types + 2 input contracts + every expectation
    assert len(CHECKS) == 9
    assert result.checks == 9 + 1 + 1 + 2 + sum(s.evaluated for s in result.suites)
    assert result.suites[0].evaluated == len(_suite_json("staged_cur_daily.json")["expectations"])
    assert result.staged_rows == 6


def test_enforce_gate_returns_the_result_of_a_clean_partition():
    result = enforce_gate(
        staged(clean_rows()),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw()),
        payer_account_id=PAYER,
        billing_period=PERIOD,
    )
    assert result.passed


def test_sub_cent_difference_passes_but_half_a_cent_fails():
    rows = clean_rows()
    rows[4]["unblended_cost"] = Decimal("1.2349999999")  # Tax; differs from raw 1.23 by < 0.005
    assert check(rows, clean_raw()).passed

    rows[4]["unblended_cost"] = Decimal("1.2350000000")  # differs by exactly 0.005: rounds to 1 cent
    result = check(rows, clean_raw())
    assert result.failures == ["line item type Tax: staged unblended 1.235 != raw 1.23 (difference 0.005)"]


# ---------------------------------------------------------------- reconciliation failures


def test_dropped_row_fails_with_the_totals_of_its_type():
    rows = clean_rows()
    del rows[1]  # the S3 Usage row: 2 raw rows, 2.25

    result = check(rows, clean_raw())

    assert not result.passed
    assert result.failures == [
        "line item type Usage: staged unblended 10.50 != raw 12.75 (difference -2.25)",
        "line item type Usage: staged amortized 10.50 != raw 12.75 (difference -2.25)",
        "line item type Usage: staged rows fold 3 raw rows (sum of line_item_count) != raw_row_count 5 (difference -2)",
    ]


def test_one_cent_difference_in_one_type_fails():
    result = check(clean_rows(), replace_raw(clean_raw(), "Tax", unblended="1.24"))

    assert result.failures == ["line item type Tax: staged unblended 1.23 != raw 1.24 (difference -0.01)"]


def test_type_missing_from_staged_fails():
    result = check(clean_rows(), [*clean_raw(), ("Refund", 1, "-2.00", "-2.00")])

    assert result.failures == [
        "line item type Refund: in raw (1 row, unblended -2.00, amortized -2.00) but missing from staged"
    ]


def test_type_missing_from_raw_totals_fails():
    rows = [*clean_rows(), staged_row("Fee", "29.00", "29.00", 1, product_code="AWSSupportBusiness")]

    result = check(rows, clean_raw())

    assert result.failures == [
        "line item type Fee: in staged (1 row folding 1 raw row, unblended 29.00, amortized 29.00) "
        "but not in the raw totals"
    ]


def test_line_item_count_that_does_not_explain_the_raw_rows_fails():
    rows = clean_rows()
    rows[2]["line_item_count"] = 5  # SavingsPlanCoveredUsage: raw has 4 rows

    result = check(rows, clean_raw())

    assert result.failures == [
        "line item type SavingsPlanCoveredUsage: staged rows fold 5 raw rows (sum of line_item_count) "
        "!= raw_row_count 4 (difference +1)"
    ]


def test_type_listed_twice_in_raw_totals_fails():
    result = check(clean_rows(), [*clean_raw(), ("Tax", 0, "0", "0")])

    assert "line item type Tax: listed more than once in the raw totals" in result.failures
    assert not result.passed


def test_null_raw_total_fails_as_not_comparable():
    result = check(clean_rows(), replace_raw(clean_raw(), "Credit", amortized=None))

    assert result.failures == ["line item type Credit: cannot compare amortized cost: raw total is null"]


def test_money_as_float_is_refused_and_reconciliation_not_run():
    schema = STAGED_SCHEMA.set(
        STAGED_SCHEMA.get_field_index("unblended_cost"), pa.field("unblended_cost", pa.float64())
    )
    rows = [row | {"unblended_cost": float(row["unblended_cost"])} for row in clean_rows()]

    result = check_staged_partition(
        staged(rows, schema),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw()),
        payer_account_id=PAYER,
        billing_period=PERIOD,
    )

    assert result.failures == [
        "staged column unblended_cost has type double, expected decimal128(38, 10)",
        "reconciliation not run: staged column unblended_cost has type double, expected decimal128(38, 10)",
    ]


# ---------------------------------------------------------------- row-level failures


def test_wrong_billing_period_fails():
    rows = clean_rows()
    for row in rows[:3]:
        row["billing_period"] = dt.date(2026, 8, 1)

    result = check(rows, clean_raw())

    assert result.failures == ["3 rows with billing_period != 2026-09-01 (e.g. 2026-08-01)"]


def test_partition_checked_against_another_period_fails_on_every_date():
    result = check(clean_rows(), clean_raw(), period=dt.date(2026, 10, 1))

    assert result.failures == [
        "6 rows with billing_period != 2026-10-01 (e.g. 2026-09-01)",
        "6 rows with usage_date outside 2026-10-01..2026-10-31 (e.g. 2026-09-03, 2026-09-30, 2026-09-01)",
    ]


@pytest.mark.parametrize(
    "column",
    [
        "billing_period",
        "payer_account_id",
        "usage_account_id",
        "usage_date",
        "line_item_type",
        "product_code",
        "currency_code",
        "usage_amount",
        "unblended_cost",
        "amortized_cost",
        "line_item_count",
        "manifest_id",
        "source_format",
    ],
)
def test_null_in_a_required_column_fails(column):
    rows = clean_rows()
    rows[0][column] = None

    result = check(rows, clean_raw())

    assert not result.passed
    assert "1 row with null " + column in result.failures


def test_null_in_an_optional_column_passes():
    rows = clean_rows()
    rows[0]["invoice_id"] = None
    rows[0]["region"] = None
    assert check(rows, clean_raw()).passed


def test_unknown_line_item_types_fail_naming_the_file_and_the_seed_to_declare_them_in():
    rows = [*clean_rows(), staged_row("BrandNewCharge", "-1.00", "-1.00", 1), staged_row("NewThing", "0", "0", 2)]
    raw_entries = [*clean_raw(), ("BrandNewCharge", 1, "-1.00", "-1.00"), ("NewThing", 2, "0", "0")]

    result = check(rows, raw_entries)

    assert result.failures == [
        f"file {FILE}: unknown line item types 'BrandNewCharge' (1 line), 'NewThing' (2 lines): "
        "declare them in dbt_project/seeds/line_item_types.csv"
    ]


def test_one_unknown_line_item_type_says_declare_it_in_the_seed():
    rows = [*clean_rows(), staged_row("BrandNewCharge", "-1.00", "-1.00", 1)]
    raw_entries = [*clean_raw(), ("BrandNewCharge", 1, "-1.00", "-1.00")]

    result = check(rows, raw_entries)

    assert result.failures == [
        f"file {FILE}: unknown line item type 'BrandNewCharge' (1 line): "
        "declare it in dbt_project/seeds/line_item_types.csv"
    ]


def test_the_reseller_line_item_types_of_aws_pass_the_gate():
    rows = [*clean_rows(), *(staged_row(t, "-1.00", "-1.00", 1) for t in RESELLER_TYPES)]
    raw_entries = [*clean_raw(), *((t, 1, "-1.00", "-1.00") for t in RESELLER_TYPES)]

    assert check(rows, raw_entries).failures == []


RESELLER_TYPES = ("SppDiscount", "RiVolumeDiscount", "DistributorDiscount")


def test_the_known_line_item_types_are_the_seeds(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "line_item_types.csv").write_text(
        "line_item_type,charge_category,pass_through_class,description\n"
        "Usage,usage,,Usage\nSppDiscount,discount,spp_discount,Solution Provider Program discount\n"
    )
    rows = [*clean_rows(), staged_row("SppDiscount", "-1.00", "-1.00", 1)]
    raw_entries = [*clean_raw(), ("SppDiscount", 1, "-1.00", "-1.00")]

    result = check_staged_partition(
        staged(rows),
        raw(raw_entries),
        raw_checks=raw_checks(raw_entries),
        payer_account_id=PAYER,
        billing_period=PERIOD,
        known_line_item_types=known_line_item_types(tmp_path),
    )

    assert known_line_item_types(tmp_path) == frozenset({"Usage", "SppDiscount"})
    assert result.failures == [
        f"file {FILE}: unknown line item types 'Credit' (1 line), 'SavingsPlanCoveredUsage' (4 lines), "
        "'SavingsPlanNegation' (4 lines), 'Tax' (1 line): declare them in dbt_project/seeds/line_item_types.csv"
    ]


def test_every_raw_finding_fails_the_gate_with_its_message_first():
    findings = [
        RawFinding("negative_usage", f"file {FILE}: 1 Usage line with a negative line_item_usage_amount", 1),
        RawFinding("mixed_currency", "2 currencies in one delivery: ...", 2),
    ]
    rows = clean_rows()
    rows[0]["source_format"] = "csv"

    result = check(rows, clean_raw(), findings=findings)

    assert result.failures == [
        f"file {FILE}: 1 Usage line with a negative line_item_usage_amount",
        "2 currencies in one delivery: ...",
        "1 row with source_format not in ('legacy', 'cur2') (e.g. 'csv')",
    ]


def test_raw_checks_of_another_partition_fail():
    result = check_staged_partition(
        staged(clean_rows()),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw(), period=dt.date(2026, 8, 1)),
        payer_account_id=PAYER,
        billing_period=PERIOD,
    )

    assert result.failures == [
        "the raw checks are of payer 111111111111, period 2026-08 "
        "(manifest 111111111111/cur/20260901-20261001/cur-Manifest.json), not of this partition"
    ]


def test_wrong_payer_fails():
    rows = clean_rows()
    rows[0]["payer_account_id"] = "222222222222"
    rows[5]["payer_account_id"] = "222222222222"

    result = check(rows, clean_raw())

    assert result.failures == ["2 rows with payer_account_id != '111111111111' (e.g. '222222222222')"]


def test_usage_date_outside_the_billing_month_fails():
    rows = clean_rows()
    rows[0]["usage_date"] = dt.date(2026, 10, 1)

    assert check(rows, clean_raw()).failures == [
        "1 row with usage_date outside 2026-09-01..2026-09-30 (e.g. 2026-10-01)"
    ]


def test_row_folding_no_raw_row_fails():
    rows = [*clean_rows(), staged_row("Usage", "0", "0", 0)]

    assert check(rows, clean_raw()).failures == ["1 row with line_item_count < 1 (e.g. 0)"]


def test_unknown_source_format_fails():
    rows = clean_rows()
    rows[0]["source_format"] = "csv"

    assert check(rows, clean_raw()).failures == ["1 row with source_format not in ('legacy', 'cur2') (e.g. 'csv')"]


def test_empty_partition_fails():
    result = check([], clean_raw())

    assert not result.passed
    assert result.failures[0] == "staged partition is empty (0 rows)"
    assert "line item type Usage: in raw (5 rows, unblended 12.75, amortized 12.75) but missing from staged" in (
        result.failures
    )


def test_missing_and_unexpected_columns_fail():
    table = staged(clean_rows()).drop_columns(["region"]).append_column("extra", pa.array([1] * 6))

    result = check_staged_partition(
        table, raw(clean_raw()), raw_checks=raw_checks(clean_raw()), payer_account_id=PAYER, billing_period=PERIOD
    )

    assert result.failures == ["staged columns differ from the staged schema: missing region; unexpected extra"]


def test_missing_required_column_fails_every_check_on_it():
    table = staged(clean_rows()).drop_columns(["manifest_id"])

    result = check_staged_partition(
        table, raw(clean_raw()), raw_checks=raw_checks(clean_raw()), payer_account_id=PAYER, billing_period=PERIOD
    )

    assert result.failures[0] == "staged columns differ from the staged schema: missing manifest_id"
    assert result.failures[1].startswith("check expect_column_values_to_not_be_null(manifest_id) could not run:")
    assert len(result.failures) == 2


# ---------------------------------------------------------------- enforcement and integrity


def test_enforce_gate_raises_with_every_failure_in_plain_words():
    rows = clean_rows()
    rows[0]["payer_account_id"] = "222222222222"

    with pytest.raises(GateFailed) as raised:
        enforce_gate(
            staged(rows),
            raw(replace_raw(clean_raw(), "Tax", unblended="1.24")),
            raw_checks=raw_checks(clean_raw()),
            payer_account_id=PAYER,
            billing_period=PERIOD,
        )

    assert not raised.value.result.passed
    assert str(raised.value).splitlines() == [
        f"staging gate failed for payer {PAYER}, period 2026-09: 2 failures in {raised.value.result.checks} checks:",
        "  - 1 row with payer_account_id != '111111111111' (e.g. '222222222222')",
        "  - line item type Tax: staged unblended 1.23 != raw 1.24 (difference -0.01)",
    ]


def test_suite_with_an_invalid_expectation_refuses_to_run(tmp_path, monkeypatch):
    for name in ("staged_cur_daily.json", "staged_reconciliation.json"):
        suite = _suite_json(name)
        if name == "staged_cur_daily.json":
            valid = len(suite["expectations"])
            suite["expectations"].append({"type": "expect_column_values_to_not_be_nul", "kwargs": {"column": "x"}})
        (tmp_path / name).write_text(json.dumps(suite))
    monkeypatch.setattr(config, "EXPECTATIONS_DIR", tmp_path)

    with pytest.raises(SuiteDefinitionError, match=f"only {valid} of {valid + 1} expectations are valid"):
        check(clean_rows(), clean_raw())


def test_missing_suite_file_refuses_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(SuiteDefinitionError, match="cannot read expectation suite"):
        check(clean_rows(), clean_raw())


def test_billing_period_must_be_the_first_day_of_a_month():
    with pytest.raises(ValueError, match="first day"):
        check(clean_rows(), clean_raw(), period=dt.date(2026, 9, 2))


def test_importing_the_gate_does_not_import_great_expectations():
    code = (
        "import sys, billflow.quality.gate; "
        "assert not {'great_expectations', 'pandas', 'sqlalchemy', 'duckdb_engine'} & set(sys.modules), sys.modules"
    )
    plugins = Path(gate.__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(plugins)})


def _suite_json(name):
    return json.loads((config.EXPECTATIONS_DIR / name).read_text())


def test_date_beyond_what_pandas_nanoseconds_hold_still_fails_cleanly():
    rows = clean_rows()
    rows[0]["usage_date"] = dt.date(9999, 12, 31)

    assert check(rows, clean_raw()).failures == [
        "1 row with usage_date outside 2026-09-01..2026-09-30 (e.g. 9999-12-31)"
    ]


def test_failures_are_listed_in_suite_order_then_reconciliation():
    rows = clean_rows()
    rows[0]["source_format"] = "csv"
    rows[1]["payer_account_id"] = None
    rows[2]["billing_period"] = dt.date(2026, 8, 1)

    result = check(rows, replace_raw(clean_raw(), "Tax", amortized="1.20"))

    assert result.failures == [
        "1 row with null payer_account_id",
        "1 row with billing_period != 2026-09-01 (e.g. 2026-08-01)",
        "1 row with source_format not in ('legacy', 'cur2') (e.g. 'csv')",
        "line item type Tax: staged amortized 1.23 != raw 1.20 (difference 0.03)",
    ]


def test_a_usage_account_id_that_is_not_an_aws_account_id_fails_the_gate():
    rows = clean_rows()
    rows[0]["usage_account_id"] = "1000-0001"
    rows[1]["usage_account_id"] = "acct-7"

    result = check(rows, clean_raw())

    assert result.failures == ["2 rows with a usage_account_id not like ^[0-9]{12,13}$ (e.g. '1000-0001', 'acct-7')"]


# ---------------------------------------------------------------- the column contract is STAGED_SCHEMA


@pytest.mark.parametrize("column", ["product_name", "pricing_unit", "region", "bill_type"])
def test_a_staged_partition_missing_a_column_of_staged_schema_fails(column):
    table = staged(clean_rows()).drop_columns([column])

    result = check_staged_partition(
        table, raw(clean_raw()), raw_checks=raw_checks(clean_raw()), payer_account_id=PAYER, billing_period=PERIOD
    )

    assert result.failures == [f"staged columns differ from the staged schema: missing {column}"]


def test_the_suite_checks_the_column_set_of_staged_schema_which_the_gate_fills_in(tmp_path):
    suite = _suite_json("staged_cur_daily.json")
    (column_set,) = [e for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
    assert column_set["kwargs"]["column_set"] == {"$PARAMETER": "staged_columns"}  # no second copy of the columns

    check(clean_rows(), clean_raw(), results_dir=tmp_path)

    (kept,) = kept_results(tmp_path, "staged_cur_daily")
    (checked,) = [r for r in kept["results"] if r["expectation_config"]["type"] == "expect_table_columns_to_match_set"]
    assert checked["expectation_config"]["kwargs"]["column_set"] == STAGED_SCHEMA.names
    assert checked["success"] is True


OTHER_KIND = {
    "string": pa.int64(),
    "date32[day]": pa.string(),
    "int64": pa.string(),
    "decimal128(38, 10)": pa.float64(),
}


@pytest.mark.parametrize("field", list(STAGED_SCHEMA), ids=lambda field: field.name)
def test_every_column_of_staged_schema_is_type_checked(field):
    wrong = OTHER_KIND[str(field.type)]
    schema = STAGED_SCHEMA.set(STAGED_SCHEMA.get_field_index(field.name), pa.field(field.name, wrong))

    assert gate._staged_type_errors(schema) == {
        field.name: f"staged column {field.name} has type {wrong}, expected {field.type}"
    }
    assert gate._staged_type_errors(STAGED_SCHEMA) == {}


def test_a_pricing_unit_of_the_wrong_type_fails_the_gate():
    schema = STAGED_SCHEMA.set(STAGED_SCHEMA.get_field_index("pricing_unit"), pa.field("pricing_unit", pa.int64()))
    rows = [row | {"pricing_unit": 7} for row in clean_rows()]

    result = check_staged_partition(
        staged(rows, schema),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw()),
        payer_account_id=PAYER,
        billing_period=PERIOD,
    )

    assert result.failures == ["staged column pricing_unit has type int64, expected string"]


# ---------------------------------------------------------------- GX: a SQL data source, results kept


def kept_results(results_dir, suite_name, run_name=f"{PAYER}-2026-09"):
    """The validation results GX kept for one suite and run, oldest first."""
    folder = results_dir / "validations" / suite_name / run_name
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*/*.json"))]


def test_the_results_of_a_failed_gate_are_kept_where_a_person_can_read_why(tmp_path):
    rows = clean_rows()
    rows[0]["payer_account_id"] = "222222222222"

    result = check(rows, replace_raw(clean_raw(), "Tax", unblended="1.24"), results_dir=tmp_path)

    assert result.results_dir == tmp_path
    (rows_kept,) = kept_results(tmp_path, "staged_cur_daily")
    failed = [r for r in rows_kept["results"] if not r["success"]]
    assert rows_kept["success"] is False
    assert [
        (
            r["expectation_config"]["type"],
            r["expectation_config"]["kwargs"]["column"],
            r["expectation_config"]["description"],
            r["result"]["unexpected_count"],
            r["result"]["partial_unexpected_list"],
        )
        for r in failed
    ] == [
        (
            "expect_column_values_to_be_in_set",
            "payer_account_id",
            "Every row belongs to the partition's payer account.",
            1,
            ["222222222222"],
        )
    ]
    (reconciliation_kept,) = kept_results(tmp_path, "staged_reconciliation")
    (failed,) = [r for r in reconciliation_kept["results"] if not r["success"]]
    assert failed["expectation_config"]["kwargs"]["column"] == "unblended_diff_cents"
    assert failed["result"]["unexpected_list"] == [-1]  # Tax: 1.23 staged, 1.24 raw


def test_each_gate_run_is_kept_beside_the_earlier_ones(tmp_path):
    check(clean_rows(), clean_raw(), results_dir=tmp_path)
    check(clean_rows(), clean_raw(), results_dir=tmp_path)

    assert [kept["success"] for kept in kept_results(tmp_path, "staged_cur_daily")] == [True, True]


def test_the_results_are_kept_under_billflow_home_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path))

    result = check(clean_rows(), clean_raw())

    assert result.results_dir == tmp_path / "gx"
    assert len(kept_results(tmp_path / "gx", "staged_cur_daily")) == 1


def test_the_staged_rows_are_validated_set_based_in_duckdb_from_the_parquet_file(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "cur_daily.parquet"
    pq.write_table(staged(clean_rows()), path)

    result = check_staged_partition(
        str(path),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw()),
        payer_account_id=PAYER,
        billing_period=PERIOD,
        results_dir=tmp_path / "gx",
    )

    assert result.passed and result.staged_rows == 6
    (kept,) = kept_results(tmp_path / "gx", "staged_cur_daily")
    assert kept["meta"]["active_batch_definition"]["datasource_name"] == "billflow_staged"
    assert kept["meta"]["batch_spec"]["query"] == (f"select * from read_parquet('{path}', hive_partitioning = false)")


def test_staged_totals_too_large_to_sum_exactly_fail_the_reconciliation_rather_than_round():
    big = Decimal("9999999999999999999999999999.0000000000")  # the largest whole decimal(38, 10)
    rows = [*clean_rows(), staged_row("Usage", big, big, 1), staged_row("Usage", big, big, 1)]

    result = check(rows, clean_raw())

    assert not result.passed
    assert [s.name for s in result.suites] == ["staged_cur_daily"]
    (failure,) = result.failures
    assert failure.startswith("reconciliation not run: cannot total the staged rows: Out of Range Error: Overflow")


def tag_costs(rows, key):
    """The cost by tag of staged rows with every row untagged under `key` (a null tag value)."""
    from billflow.staging.columns import STAGED_TAG_SCHEMA

    tagged = [{name: row.get(name) for name in STAGED_TAG_SCHEMA.names} | {"tag_key": key} for row in rows]
    return pa.Table.from_pylist(tagged, schema=STAGED_TAG_SCHEMA)


def check_clean_with_tags(tags: pa.Table, results_dir=None):
    """The gate on the clean partition with its cost by tag `tags`, tag keys team and project configured."""
    return check_staged_partition(
        staged(clean_rows()),
        raw(clean_raw()),
        raw_checks=raw_checks(clean_raw()),
        payer_account_id=PAYER,
        billing_period=PERIOD,
        tag_costs=tags,
        tag_keys=("team", "project"),
        results_dir=results_dir,
    )


def test_the_tag_keys_are_reconciled_in_the_same_run_as_the_staged_rows(tmp_path):
    result = check_clean_with_tags(
        pa.concat_tables([tag_costs(clean_rows(), "team"), tag_costs(clean_rows(), "project")]), results_dir=tmp_path
    )

    assert result.failures == []
    assert [(s.name, s.evaluated, s.failed) for s in result.suites] == [
        ("staged_cur_daily", 21, 0),
        ("staged_reconciliation", 10, 0),
    ]
    (kept,) = kept_results(tmp_path, "staged_reconciliation")
    assert kept["success"] is True


def test_a_tag_key_whose_rows_do_not_carry_every_raw_line_fails_under_its_name():
    without_tax = [row for row in clean_rows() if row["line_item_type"] != "Tax"]

    result = check_clean_with_tags(
        pa.concat_tables([tag_costs(clean_rows(), "team"), tag_costs(without_tax, "project")])
    )

    assert result.failures == [
        "tag key project: line item type Tax: in raw (1 row, unblended 1.23, amortized 1.23) but missing from staged"
    ]
    assert [s.name for s in result.suites] == ["staged_cur_daily", "staged_reconciliation"]
