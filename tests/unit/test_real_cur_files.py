"""Real CUR files written by others (tests/fixtures/external) stage with totals equal to the file's."""

import csv
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.formats.columns import athena_column_name
from billflow.formats.manifest import Delivery
from billflow.quality.gate import enforce_gate
from billflow.staging.columns import MONEY, RAW_COLUMNS
from billflow.staging.stage import read_candidate, read_raw_checks, stage_delivery
from billflow.storage.local import LocalStore
from billflow_dev.csv_cur import csv_to_parquet
from tests.fixtures import EXTERNAL

# real CUR files copied into the repository (provenance and licences: tests/fixtures/external/SOURCES.md)
FOCUS_CONVERTERS_CUR = EXTERNAL / "focus-converters" / "sample-anonymous-aws-export-dataset.csv"
MONEY_COLUMNS = {name for name, sql_type in RAW_COLUMNS.items() if sql_type == MONEY}
KOKU = EXTERNAL / "koku"


def rule_set(folder, currency):
    """A rule set whose one customer is invoiced in `currency` (the staging checks read customers and rates)."""
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text(
        f"customer_id,currency_code,effective_from,effective_to\ncustomer,{currency},2018-01-01,\n"
    )
    (folder / "fx_rates.csv").write_text("billing_period,from_currency,to_currency,rate\n")
    return folder


def test_csv_headers_take_athena_column_names():
    assert athena_column_name("lineItem/UsageAccountId") == "line_item_usage_account_id"
    assert athena_column_name("savingsPlan/SavingsPlanARN") == "savings_plan_savings_plan_a_r_n"
    assert athena_column_name("resourceTags/user:Team") == "resource_tags_user_team"
    assert athena_column_name("pricing/publicOnDemandCost") == "pricing_public_on_demand_cost"


def file_totals(path):
    """Per line item type: rows and unblended cost, read with the csv module and exact decimals."""
    rows, cost = Counter(), defaultdict(Decimal)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            line_type = row["lineItem/LineItemType"]
            rows[line_type] += 1
            cost[line_type] += Decimal(row["lineItem/UnblendedCost"] or "0")
    return rows, cost


def stage_and_gate(tmp_path, delivery: Delivery, currency: str):
    """Stage a delivery landed under tmp_path/landing with a rule set invoicing in `currency`, then gate it."""
    staged = LocalStore(tmp_path / "staged")
    result = stage_delivery(
        delivery,
        LocalStore(tmp_path / "landing"),
        staged,
        DuckDBEngine(threads=1),
        rules_dir=rule_set(tmp_path / "rules", currency),
    )
    candidate, raw_totals = read_candidate(staged, result.version)
    gate = enforce_gate(
        candidate,
        raw_totals,
        raw_checks=read_raw_checks(staged, result.version),
        payer_account_id=delivery.payer_account_id,
        billing_period=delivery.billing_period,
    )
    return result, candidate, raw_totals, gate


def test_the_focus_converters_cur_stages_and_passes_the_gate_with_the_files_totals(tmp_path):
    key = "123412340534/sample/data/sample.parquet"
    assert csv_to_parquet(FOCUS_CONVERTERS_CUR, tmp_path / "landing" / key) == 1281
    manifest = "123412340534/sample/20231101-20231201/sample-Manifest.json"
    delivery = Delivery(
        "123412340534", date(2023, 11, 1), "focus-sample", "legacy", "sample", manifest, (f"s3://cur/{key}",)
    )

    result, candidate, _, gate = stage_and_gate(tmp_path, delivery, "USD")

    rows, cost = file_totals(FOCUS_CONVERTERS_CUR)
    assert rows == {"Usage": 1269, "Tax": 12}
    staged_rows, staged_cost = Counter(), defaultdict(Decimal)
    for row in candidate.to_pylist():
        staged_rows[row["line_item_type"]] += row["line_item_count"]
        staged_cost[row["line_item_type"]] += row["unblended_cost"]
    assert staged_rows == rows
    assert {t: c.quantize(Decimal("0.0000000001")) for t, c in staged_cost.items()} == {
        t: c.quantize(Decimal("0.0000000001")) for t, c in cost.items()
    }
    assert sum(cost.values()).quantize(Decimal("0.01")) == Decimal("1.68")
    assert result.findings == ()
    assert gate.passed


@pytest.mark.parametrize(
    ("name", "payer"), [("2023-06-01.csv", "0099999999999"), ("2023-06-01-not-final.csv", "9999999999999")]
)
def test_the_koku_savings_plan_curs_in_nok_pass_the_raw_checks_and_the_gate(tmp_path, name, payer):
    key = f"{payer}/koku/data/{name}.parquet"
    assert csv_to_parquet(KOKU / name, tmp_path / "landing" / key) == 3
    manifest = f"{payer}/koku/20230601-20230701/koku-Manifest.json"
    delivery = Delivery(payer, date(2023, 6, 1), "koku", "legacy", "koku", manifest, (f"s3://cur/{key}",))

    result, _, raw_totals, gate = stage_and_gate(tmp_path, delivery, "NOK")

    assert result.findings == ()
    # three SavingsPlanCoveredUsage lines of 10 NOK, each with an effective cost of 0.1 (the file's figures)
    assert raw_totals.to_pylist() == [
        {
            "line_item_type": "SavingsPlanCoveredUsage",
            "raw_row_count": 3,
            "unblended_cost": Decimal("30.0000000000"),
            "amortized_cost": Decimal("0.3000000000"),
        }
    ]
    assert gate.passed


@pytest.mark.parametrize(
    "path",
    [
        FOCUS_CONVERTERS_CUR,
        KOKU / "2023-06-01.csv",
        KOKU / "2023-06-01-not-final.csv",
    ],
    ids=lambda path: path.name,
)
def test_every_money_value_of_a_real_cur_file_is_read_exactly(tmp_path, path):
    """Plain decimals and AWS's exponents (9.984E-7, 7.0E-10) land as the very decimals the file wrote."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    money = {header: athena_column_name(header) for header in rows[0] if athena_column_name(header) in MONEY_COLUMNS}

    csv_to_parquet(path, tmp_path / "cur.parquet")

    table = pq.read_table(tmp_path / "cur.parquet", columns=list(money.values()))
    assert {table.schema.field(name).type for name in money.values()} == {pa.decimal128(38, 10)}
    for header, name in money.items():
        assert table.column(name).to_pylist() == [Decimal(row[header]) if row[header] else None for row in rows]
