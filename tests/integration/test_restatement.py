"""Restatement after lock (rule 11) end to end in the serving database: monthly close -> re-published
(restated) marts -> dbt serving build, on the embedded DuckDB file and on PostgreSQL (the compose
profile against the throw-away cluster of tests/integration/conftest.py).

acme (figures by hand, USD, every line charge category usage and rule list-price but the tax line):

  September locked: EC2 100.00, S3 20.00, tax 8.00                                   = 128.00
  restated:         EC2 110.50 (+10.50), no S3 (-20.00), tax 8.00, Lambda 5.25 (+5.25)
  October (open):   EC2 70.00 + adjustments -4.25                                     =  65.75, then locked
  restated again:   EC2 112.00 (+1.50 left after +10.50), S3 3.00 (+3.00 after -20.00), Lambda 5.25 (0)
  November (open):  EC2 80.00 + adjustments 4.50                                      =  84.50

globex: September locked at S3 30.00, restated 31.00 with no open invoice later: +1.00 pending, then
carried by November (S3 12.00 + 1.00 = 13.00).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import astuple
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from billflow.billing.close import lock_final_invoices, restatement_adjustments
from billflow.config import DBT_PROJECT_DIR, load_settings
from billflow.engines.database import Database
from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.engines.postgres_database import PostgresDatabase
from billflow.serving.publish import publish_marts
from dbt.cli.main import dbtRunner

SEPT, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
MONEY, AMOUNT = pa.decimal128(38, 10), pa.decimal128(18, 2)

# (customer, period, product_code, charge_category, pricing_rule_id, amount)
Line = tuple[str, date, str, str, str, str]


def ec2(customer: str, period: date, amount: str) -> Line:
    return (customer, period, "AmazonEC2", "usage", "list-price", amount)


def marts(lines: list[Line], final: set[tuple[str, date]]) -> dict[str, pa.Table]:
    """The three published marts for these invoice lines (invoice total = sum of its lines)."""
    invoices: dict[tuple[str, date], list[Decimal]] = {}
    for customer, period, *_, amount in lines:
        invoices.setdefault((customer, period), []).append(Decimal(amount))
    keys = sorted(invoices)
    return {
        "daily_costs": pa.table(
            {
                "billing_period": pa.array([], pa.date32()),
                "usage_date": pa.array([], pa.date32()),
                **{name: pa.array([], pa.string()) for name in ("customer_id", "payer_account_id")},
                **{name: pa.array([], pa.string()) for name in ("usage_account_id", "product_code")},
                **{name: pa.array([], pa.string()) for name in ("charge_category", "currency_code")},
                **{name: pa.array([], MONEY) for name in ("unblended_cost", "amortized_cost", "billed_cost")},
                "line_item_count": pa.array([], pa.int64()),
            }
        ),
        "invoice_lines": pa.table(
            {
                "customer_id": [line[0] for line in lines],
                "billing_period": [line[1] for line in lines],
                "product_code": [line[2] for line in lines],
                "charge_category": [line[3] for line in lines],
                "pricing_rule_id": [line[4] for line in lines],
                "line_source": ["aws"] * len(lines),
                "currency_code": ["USD"] * len(lines),
                "amortized_cost": pa.array([Decimal(line[5]) for line in lines], MONEY),
                "adjustment_pct": pa.array([Decimal(0)] * len(lines), pa.decimal128(9, 4)),
                "billed_cost": pa.array([Decimal(line[5]) for line in lines], MONEY),
                "amount": pa.array([Decimal(line[5]) for line in lines], AMOUNT),
            }
        ),
        "invoices": pa.table(
            {
                "customer_id": [c for c, _ in keys],
                "customer_name": [c.title() for c, _ in keys],
                "billing_period": [p for _, p in keys],
                "currency_code": ["USD"] * len(keys),
                "line_count": [len(invoices[k]) for k in keys],
                "amortized_cost": pa.array([sum(invoices[k]) for k in keys], MONEY),
                "total_amount": pa.array([sum(invoices[k]) for k in keys], AMOUNT),
                "is_cur_final": [k in final for k in keys],
                "status": ["provisional"] * len(keys),
            }
        ),
    }


class Serving:
    """The serving database of one backend, and the steps of the pipeline on it."""

    def __init__(self, root: Path, connect: Callable[[], Database]) -> None:
        self.root, self.connect = root, connect

    def publish(self, lines: list[Line], final: set[tuple[str, date]]) -> None:
        """The warehouse marts are rebuilt (restated) and published, as the daily load does."""
        warehouse = DuckDBDatabase(self.root / "warehouse.duckdb")
        serving = self.connect()
        try:
            warehouse.replace_tables("marts", marts(lines, final))
            publish_marts(warehouse, serving)
        finally:
            warehouse.close()
            serving.close()

    def lock(self, as_of: date) -> list[str]:
        serving = self.connect()
        try:
            return [i.invoice_number for i in lock_final_invoices(serving, as_of, datetime(as_of.year, as_of.month, 8))]
        finally:
            serving.close()

    def build(self, unit_tests: bool = False) -> None:
        """`dbt build --select tag:serving` as the pipeline runs it (models and data tests); the dbt unit
        tests of the serving models run once per backend (they do not read the data)."""
        settings = load_settings()
        args = ["build", "--select", "tag:serving", "--target", "serving", "--quiet"]
        args += ["--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_profiles_dir)]
        args += ["--target-path", str(self.root / "dbt-target"), "--log-path", str(self.root / "dbt-logs")]
        if not unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        result = dbtRunner().invoke(args)
        failed = [
            f"{r.node.name}: {r.status} {r.message or ''}"
            for r in (result.result or [])
            if str(r.status) not in ("success", "pass")
        ]
        assert result.success, f"dbt build failed: {failed or result.exception}"

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        serving = self.connect()
        try:
            return serving.fetch_all(sql, params)
        finally:
            serving.close()

    def invoices(self) -> dict[tuple[str, date], tuple]:
        return {
            (customer, period): tuple(rest)
            for customer, period, *rest in self.rows(
                "select customer_id, billing_period, status, invoice_number, total_amount, line_count, "
                "adjustment_amount from billing.invoices"
            )
        }

    def lines(self, customer: str, period: date) -> list[tuple]:
        return self.rows(
            "select product_code, line_source, adjusts_billing_period, amount from billing.invoice_lines "
            "where customer_id = ? and billing_period = ? order by line_source, product_code, amount",
            (customer, period),
        )

    def python_and_dbt_agree(self) -> None:
        """The close freezes what the serving model shows (billflow.billing.close, same logic)."""
        serving = self.connect()
        try:
            python = [astuple(a) for a in restatement_adjustments(serving)]
        finally:
            serving.close()
        dbt = self.rows(
            "select customer_id, billing_period, adjusts_billing_period, product_code, charge_category, "
            "pricing_rule_id, currency_code, amount from billing.restatement_adjustments"
        )
        assert python, "nothing to compare"
        assert sorted(python, key=repr) == sorted(dbt, key=repr)


@pytest.fixture(params=["duckdb", "postgres"])
def serving(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serving]:
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    for name in ("SERVING_PATH", "SERVING_CONN_ID", "DBT_PROJECT_DIR"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    if request.param == "duckdb":
        monkeypatch.setenv("BILLFLOW_DBT_PROFILES_DIR", str(DBT_PROJECT_DIR / "profiles" / "embedded"))
        yield Serving(tmp_path, lambda: DuckDBDatabase(tmp_path / "serving.duckdb"))
        return
    server = request.getfixturevalue("postgres_server")
    dbname = server.create_database("restate")
    monkeypatch.setenv("BILLFLOW_DBT_PROFILES_DIR", str(DBT_PROJECT_DIR / "profiles" / "compose"))
    for name, value in {
        "HOST": server.host,
        "PORT": str(server.port),
        "USER": server.user,
        "PASSWORD": "trusted",
        "DBNAME": dbname,
        "SSLMODE": "disable",
    }.items():
        monkeypatch.setenv(f"BILLFLOW_PG_{name}", value)
    yield Serving(tmp_path, lambda: PostgresDatabase(server.connect(dbname), name=f"postgres:{dbname}"))


def test_a_restated_locked_month_is_adjusted_on_the_next_open_invoice_and_frozen_with_it(serving: Serving):
    september = [
        ec2("acme", SEPT, "100.00"),
        ("acme", SEPT, "AmazonS3", "usage", "list-price", "20.00"),
        ("acme", SEPT, "AmazonEC2", "tax", "tax_pass_through", "8.00"),
        ("globex", SEPT, "AmazonS3", "usage", "globex-s3", "30.00"),
    ]
    serving.publish([*september, ec2("acme", OCT, "70.00")], {("acme", SEPT), ("globex", SEPT)})
    assert serving.lock(date(2026, 10, 8)) == ["BF-202609-0001", "BF-202609-0002"]
    locked_september = [
        ("AmazonEC2", "aws", None, Decimal("8.00")),
        ("AmazonEC2", "aws", None, Decimal("100.00")),
        ("AmazonS3", "aws", None, Decimal("20.00")),
    ]

    # AWS restates September
    restated = [
        ec2("acme", SEPT, "110.50"),
        ("acme", SEPT, "AmazonEC2", "tax", "tax_pass_through", "8.00"),
        ("acme", SEPT, "AWSLambda", "usage", "list-price", "5.25"),
        ("globex", SEPT, "AmazonS3", "usage", "globex-s3", "31.00"),
    ]
    serving.publish([*restated, ec2("acme", OCT, "70.00")], {("acme", SEPT), ("globex", SEPT)})
    serving.build(unit_tests=True)

    invoices = serving.invoices()
    # status, number, total, lines, adjustments: the locked invoices do not move
    assert invoices[("acme", SEPT)] == ("final", "BF-202609-0001", Decimal("128.00"), 3, Decimal("0.00"))
    assert invoices[("globex", SEPT)] == ("final", "BF-202609-0002", Decimal("30.00"), 1, Decimal("0.00"))
    assert serving.lines("acme", SEPT) == locked_september
    assert invoices[("acme", OCT)] == ("provisional", None, Decimal("65.75"), 4, Decimal("-4.25"))
    assert serving.lines("acme", OCT) == [
        ("AWSLambda", "adjustment", SEPT, Decimal("5.25")),
        ("AmazonEC2", "adjustment", SEPT, Decimal("10.50")),
        ("AmazonS3", "adjustment", SEPT, Decimal("-20.00")),
        ("AmazonEC2", "aws", None, Decimal("70.00")),
    ]
    assert serving.rows(
        "select customer_id, adjusts_billing_period, product_code, published_amount, locked_amount, amount "
        "from billing.pending_adjustments"
    ) == [("globex", SEPT, "AmazonS3", Decimal("31.00"), Decimal("30.00"), Decimal("1.00"))]
    serving.python_and_dbt_agree()

    # October is final: locking it freezes the adjustments it carries
    serving.publish([*restated, ec2("acme", OCT, "70.00")], {("acme", SEPT), ("globex", SEPT), ("acme", OCT)})
    assert serving.lock(date(2026, 11, 8)) == ["BF-202610-0001"]
    serving.build()

    invoices = serving.invoices()
    assert invoices[("acme", OCT)] == ("final", "BF-202610-0001", Decimal("65.75"), 4, Decimal("-4.25"))
    frozen_october = serving.lines("acme", OCT)
    assert frozen_october == [
        ("AWSLambda", "adjustment", SEPT, Decimal("5.25")),
        ("AmazonEC2", "adjustment", SEPT, Decimal("10.50")),
        ("AmazonS3", "adjustment", SEPT, Decimal("-20.00")),
        ("AmazonEC2", "aws", None, Decimal("70.00")),
    ]
    assert serving.rows(
        "select total_amount from billing_control.invoice_locks where invoice_number = 'BF-202610-0001'"
    ) == [(Decimal("65.75"),)]
    assert serving.rows("select customer_id, amount from billing.restatement_adjustments") == [
        ("globex", Decimal("1.00"))
    ]

    # a second restatement of September: only the remaining difference, on November
    restated_again = [
        ec2("acme", SEPT, "112.00"),
        ("acme", SEPT, "AmazonS3", "usage", "list-price", "3.00"),
        ("acme", SEPT, "AmazonEC2", "tax", "tax_pass_through", "8.00"),
        ("acme", SEPT, "AWSLambda", "usage", "list-price", "5.25"),
        ("globex", SEPT, "AmazonS3", "usage", "globex-s3", "31.00"),
        ec2("acme", OCT, "70.00"),
        ec2("acme", NOV, "80.00"),
        ("globex", NOV, "AmazonS3", "usage", "globex-s3", "12.00"),
    ]
    final = {("acme", SEPT), ("globex", SEPT), ("acme", OCT)}
    serving.publish(restated_again, final)
    serving.build()

    invoices = serving.invoices()
    assert invoices[("acme", SEPT)] == ("final", "BF-202609-0001", Decimal("128.00"), 3, Decimal("0.00"))
    assert invoices[("acme", OCT)] == ("final", "BF-202610-0001", Decimal("65.75"), 4, Decimal("-4.25"))
    assert serving.lines("acme", SEPT) == locked_september
    assert serving.lines("acme", OCT) == frozen_october
    assert invoices[("acme", NOV)] == ("provisional", None, Decimal("84.50"), 3, Decimal("4.50"))
    assert serving.lines("acme", NOV) == [
        ("AmazonEC2", "adjustment", SEPT, Decimal("1.50")),
        ("AmazonS3", "adjustment", SEPT, Decimal("3.00")),
        ("AmazonEC2", "aws", None, Decimal("80.00")),
    ]
    assert invoices[("globex", NOV)] == ("provisional", None, Decimal("13.00"), 2, Decimal("1.00"))
    assert serving.rows("select count(*) from billing.pending_adjustments") == [(0,)]
    serving.python_and_dbt_agree()

    # November is locked with its adjustments; nothing is left to adjust
    serving.publish(restated_again, {*final, ("acme", NOV), ("globex", NOV)})
    assert serving.lock(date(2026, 12, 8)) == ["BF-202611-0001", "BF-202611-0002"]
    serving.build()

    invoices = serving.invoices()
    assert invoices[("acme", NOV)] == ("final", "BF-202611-0001", Decimal("84.50"), 3, Decimal("4.50"))
    assert invoices[("globex", NOV)] == ("final", "BF-202611-0002", Decimal("13.00"), 2, Decimal("1.00"))
    assert serving.rows("select count(*) from billing.restatement_adjustments") == [(0,)]
