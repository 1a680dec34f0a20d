"""dbt project end to end on DuckDB: staged Parquet -> warehouse marts -> serving models.

The staged partitions are written here by hand (a dozen rows, exact decimals) so that every
expected invoice figure below can be checked with pencil and paper:

customer   line (product, category)        amortized       x factor   billed          amount
acme +5%   AmazonEC2 usage                 100 + 12.3456789012 + 0     117.9629628463  117.96
           AmazonEC2 tax (no markup)       8.25                        8.25              8.25   -> 126.21
globex -3% AmazonS3 usage                  10.005          x 0.97      9.70485           9.70
           AmazonS3 credit                 -1.50           x 0.97      -1.455           -1.46
           AmazonRDS usage (until 09-15)   40.00           x 0.97      38.80            38.80   -> 47.04
initech    AmazonRDS usage (from 09-16)    60.00           x 0.925     55.50            55.50
  -7.5%    AWSLambda usage                 33.3333333333   x 0.925     30.8333333333    30.83   -> 86.33
umbrella   ComputeSavingsPlans commitment  5.00            x 0.9775    4.8875            4.89
  -2.25%   AmazonEC2 discount              -2.50           x 0.9775    -2.44375         -2.44
           AWSLambda tax                   3.10                        3.10              3.10   ->  5.55
unassigned AmazonEC2 usage (200000000004)  12.345          x 1         12.345           12.35   -> 12.35

globex shows why the total is the sum of rounded lines: round(47.04985) would be 47.05.
Payer 111111111111 is invoiced by AWS (invoice id set), payer 222222222222 is not yet:
acme and globex are CUR-final, initech (accounts on both payers), umbrella and unassigned not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from billflow.config import allocation_tag_keys
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from dbt.cli.main import dbtRunner

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PROFILES_DIR = PROJECT_DIR / "profiles" / "embedded"
PERIOD = date(2026, 9, 1)

SP_ARN = "arn:aws:savingsplans::222222222222:savingsplan/sp-0001"

# (usage account, day, line item type, product, unblended, amortized, raw rows)
PAYER_1_ROWS = [
    ("100000000001", 3, "Usage", "AmazonEC2", "100", "100", 10),
    ("100000000002", 5, "SavingsPlanCoveredUsage", "AmazonEC2", "20", "12.3456789012", 4),
    ("100000000002", 5, "SavingsPlanNegation", "AmazonEC2", "-20", "0", 4),
    ("111111111111", 30, "Tax", "AmazonEC2", "8.25", "8.25", 1),
    ("100000000003", 10, "Usage", "AmazonS3", "10.005", "10.005", 7),
    ("100000000004", 15, "Usage", "AmazonRDS", "40", "40", 3),
    ("100000000004", 16, "Usage", "AmazonRDS", "60", "60", 3),
    ("100000000003", 20, "Credit", "AmazonS3", "-1.5", "-1.5", 1),
]
PAYER_2_ROWS = [
    ("200000000001", 2, "Usage", "AWSLambda", "33.3333333333", "33.3333333333", 9),
    ("200000000002", 4, "SavingsPlanRecurringFee", "ComputeSavingsPlans", "50", "5", 1),
    ("200000000003", 4, "EdpDiscount", "AmazonEC2", "-2.5", "-2.5", 2),
    ("200000000004", 8, "Usage", "AmazonEC2", "12.345", "12.345", 5),
    ("222222222222", 30, "Tax", "AWSLambda", "3.1", "3.1", 1),
]

EXPECTED_TOTALS = {
    "acme": Decimal("126.21"),
    "globex": Decimal("47.04"),
    "initech": Decimal("86.33"),
    "umbrella": Decimal("5.55"),
    "unassigned": Decimal("12.35"),
}
EXPECTED_CUR_FINAL = {"acme": True, "globex": True, "initech": False, "umbrella": False, "unassigned": False}

LOCK_NUMBER = "BF-2026-09-0001"
LOCKED_AT = datetime(2026, 10, 8, 12, 0, 0)
# acme was locked before a restatement: the lock differs from the published 126.21.
LOCKED_LINES = [("AmazonEC2", "usage", Decimal("111.75")), ("AmazonEC2", "tax", Decimal("8.25"))]
LOCKED_TOTAL = Decimal("120.00")

CONTROL_DDL = """
create schema if not exists billing_control;
create table billing_control.invoice_locks (
    customer_id varchar not null,
    billing_period date not null,
    invoice_number varchar not null,
    currency_code varchar not null,
    total_amount decimal(18, 2) not null,
    locked_at timestamp not null,
    primary key (customer_id, billing_period)
);
create table billing_control.locked_invoice_lines (
    customer_id varchar not null,
    billing_period date not null,
    product_code varchar,
    charge_category varchar,
    currency_code varchar,
    amount decimal(18, 2) not null
);
"""


@dataclass(frozen=True)
class Warehouse:
    root: Path
    warehouse_path: Path
    serving_path: Path


def _write_partition(staged_root: Path, payer: str, rows: list[tuple], invoice_id: str | None) -> None:
    records = [
        {
            "billing_period": PERIOD,
            "payer_account_id": payer,
            "usage_account_id": account,
            "usage_date": PERIOD.replace(day=day),
            "line_item_type": line_item_type,
            "product_code": product,
            "usage_type": f"{product}-usage",
            "operation": "",
            "region": "us-east-1",
            "currency_code": "USD",
            "bill_type": "Anniversary",
            "invoice_id": invoice_id,
            "commitment_arn": SP_ARN if line_item_type.startswith("SavingsPlan") else None,
            "usage_amount": Decimal("1"),
            "unblended_cost": Decimal(unblended),
            "amortized_cost": Decimal(amortized),
            "public_on_demand_cost": Decimal(unblended),
            "line_item_count": count,
            "manifest_id": f"manifest-{payer}",
            "source_format": "cur2",
        }
        for account, day, line_item_type, product, unblended, amortized, count in rows
    ]
    partition = staged_root / "cur_daily" / f"payer={payer}" / f"period={PERIOD:%Y-%m}"
    partition.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=STAGED_SCHEMA), partition / "part-0.parquet")
    # cost by allocation tag: every row untagged for each configured key, so each key reconciles
    tag_records = [
        {**{k: r[k] for k in STAGED_TAG_SCHEMA.names if k in r}, "tag_key": key, "tag_value": None}
        for key in allocation_tag_keys()
        for r in records
    ]
    tags = staged_root / "cur_daily_tags" / f"payer={payer}" / f"period={PERIOD:%Y-%m}"
    tags.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(tag_records, schema=STAGED_TAG_SCHEMA), tags / "part-0.parquet")


def _dbt(root: Path, *args: str) -> None:
    """Run dbt in-process with the embedded profiles; target/ and logs/ stay in `root`."""
    result = dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROFILES_DIR),
            "--target-path",
            str(root / "target"),
            "--log-path",
            str(root / "logs"),
            "--quiet",
        ]
    )
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt {' '.join(args)} failed: {result.exception or failures}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("billflow-dbt")
    staged_root = root / "staged"
    _write_partition(staged_root, "111111111111", PAYER_1_ROWS, invoice_id="EUINUS26-000001")
    _write_partition(staged_root, "222222222222", PAYER_2_ROWS, invoice_id=None)
    env = {
        "BILLFLOW_HOME": str(root),
        "BILLFLOW_STAGED_URI": str(staged_root),
        "BILLFLOW_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "BILLFLOW_SERVING_PATH": str(root / "serving.duckdb"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        _dbt(root, "seed", "--target", "warehouse")
        _dbt(root, "build", "--select", "tag:warehouse", "--target", "warehouse")
        yield Warehouse(root, Path(env["BILLFLOW_WAREHOUSE_PATH"]), Path(env["BILLFLOW_SERVING_PATH"]))


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_warehouse_invoices_match_hand_computed_totals(warehouse: Warehouse) -> None:
    invoices = _rows(
        warehouse.warehouse_path,
        "select customer_id, total_amount, is_cur_final, status, line_count from marts.invoices "
        "where billing_period = date '2026-09-01' order by customer_id",
    )
    assert {customer: total for customer, total, *_ in invoices} == EXPECTED_TOTALS
    assert {customer: final for customer, _, final, *_ in invoices} == EXPECTED_CUR_FINAL
    assert {status for _, _, _, status, _ in invoices} == {"provisional"}
    assert {customer: lines for customer, *_, lines in invoices} == {
        "acme": 2,
        "globex": 3,
        "initech": 2,
        "umbrella": 3,
        "unassigned": 1,
    }

    lines = {
        (customer, product, category): amount
        for customer, product, category, amount in _rows(
            warehouse.warehouse_path,
            "select customer_id, product_code, charge_category, amount from marts.invoice_lines",
        )
    }
    assert lines[("acme", "AmazonEC2", "usage")] == Decimal("117.96")
    assert lines[("acme", "AmazonEC2", "tax")] == Decimal("8.25")  # tax is not marked up
    assert lines[("globex", "AmazonS3", "credit")] == Decimal("-1.46")  # -1.455 half away from zero
    assert lines[("globex", "AmazonRDS", "usage")] == Decimal("38.80")  # usage before the move
    assert lines[("initech", "AmazonRDS", "usage")] == Decimal("55.50")  # usage on effective_to
    assert lines[("unassigned", "AmazonEC2", "usage")] == Decimal("12.35")  # unmapped, not dropped

    staged_rows, mart_rows = _rows(
        warehouse.warehouse_path,
        "select (select sum(line_item_count) from staging.stg_cur__daily_costs), "
        "(select sum(line_item_count) from marts.daily_costs)",
    )[0]
    assert staged_rows == mart_rows == 51


def test_serving_shows_locked_invoice_as_final(warehouse: Warehouse) -> None:
    with duckdb.connect(str(warehouse.serving_path)) as con:
        con.execute(f"attach '{warehouse.warehouse_path}' as warehouse_db (read_only)")
        con.execute("create schema published")
        for mart in ("daily_costs", "invoice_lines", "invoices"):
            con.execute(f"create table published.{mart} as select * from warehouse_db.marts.{mart}")
        con.execute("detach warehouse_db")
        con.execute(CONTROL_DDL)
        con.execute(
            "insert into billing_control.invoice_locks values ('acme', ?, ?, 'USD', ?, ?)",
            [PERIOD, LOCK_NUMBER, LOCKED_TOTAL, LOCKED_AT],
        )
        con.executemany(
            "insert into billing_control.locked_invoice_lines values ('acme', ?, ?, ?, 'USD', ?)",
            [[PERIOD, product, category, amount] for product, category, amount in LOCKED_LINES],
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BILLFLOW_HOME", str(warehouse.root))
        patch.setenv("BILLFLOW_SERVING_PATH", str(warehouse.serving_path))
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        _dbt(warehouse.root, "build", "--select", "tag:serving", "--target", "serving")

    invoices = {
        row[0]: row[1:]
        for row in _rows(
            warehouse.serving_path,
            "select customer_id, status, invoice_number, locked_at, total_amount, published_total_amount, "
            "line_count from billing.invoices where billing_period = date '2026-09-01'",
        )
    }
    assert invoices["acme"] == ("final", LOCK_NUMBER, LOCKED_AT, LOCKED_TOTAL, Decimal("126.21"), 2)
    assert invoices["globex"] == ("provisional", None, None, Decimal("47.04"), Decimal("47.04"), 3)
    assert {customer: row[3] for customer, row in invoices.items()} == {
        **EXPECTED_TOTALS,
        "acme": LOCKED_TOTAL,
    }

    acme_lines = _rows(
        warehouse.serving_path,
        "select product_code, charge_category, amount, status, invoice_number from billing.invoice_lines "
        "where customer_id = 'acme' order by charge_category desc",
    )
    assert acme_lines == [(p, c, a, "final", LOCK_NUMBER) for p, c, a in LOCKED_LINES]

    published_daily, serving_daily = _rows(
        warehouse.serving_path,
        "select (select sum(billed_cost) from published.daily_costs), "
        "(select sum(billed_cost) from billing.daily_costs)",
    )[0]
    assert published_daily == serving_daily


@pytest.mark.parametrize("profiles", ["embedded", "compose", "aws"])
def test_every_deployments_profiles_parse_for_both_targets(profiles: str, tmp_path: Path) -> None:
    """The Redshift/Postgres profiles cannot connect here, but the project must parse against them."""
    for target in ("warehouse", "serving"):
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR / "profiles" / profiles),
                "--target",
                target,
                "--target-path",
                str(tmp_path / target),
                "--log-path",
                str(tmp_path / "logs"),
                "--no-partial-parse",
                "--quiet",
            ]
        )
        assert result.success, f"dbt parse with profiles/{profiles} --target {target}: {result.exception}"
        assert (tmp_path / target / "manifest.json").exists()
