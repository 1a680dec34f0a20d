"""Restatement after lock (rule 11) end to end in the serving database, on the embedded DuckDB file and on
PostgreSQL (the compose profile against the throw-away cluster of tests/integration/conftest.py), in the
flow of the pipeline: a daily load publishes the (restated) marts into the serving shadow, dbt builds and
tests the serving models there and one release makes it all live; the monthly close locks from that tested
shadow, rebuilds it with the new locks and releases it. Every assertion reads the live `billing` schema
or the control tables.

acme (figures by hand, USD, every line charge category usage and rule list-price but the tax line):

  September locked: EC2 100.00, S3 20.00, tax 8.00                                   = 128.00
  restated:         EC2 110.50 (+10.50), no S3 (-20.00), tax 8.00, Lambda 5.25 (+5.25)
  October (open):   EC2 70.00 + adjustments -4.25                                     =  65.75, then locked
  restated again:   EC2 112.00 (+1.50 left after +10.50), S3 3.00 (+3.00 after -20.00), Lambda 5.25 (0)
  November (open):  EC2 80.00 + adjustments 4.50                                      =  84.50

globex: September locked at S3 30.00, restated 31.00 with no open invoice later: +1.00 pending, then
carried by November (S3 12.00 + 1.00 = 13.00).

All cost is on one payer, whose CUR of a month is final once the month's invoices are: the restatement of
September comes with October's final CUR, the second one with November's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from billflow.billing.close import ClosePolicy, lock_final_invoices
from billflow.config import DBT_PROJECT_DIR, load_settings
from billflow.control.release import CLOSE, LOAD, Release, commit_release, latest_release_id
from billflow.control.schema import ensure_control_tables
from billflow.control.versions import StagedVersion
from billflow.engines.database import Database
from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.engines.postgres_database import PostgresDatabase
from billflow.formats.manifest import Delivery
from billflow.serving.publish import publish_marts
from billflow.staging.versions import VersionRef
from billflow.warehouse.dbt import invoke_dbt

SEPT, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
MONEY, AMOUNT = pa.decimal128(38, 10), pa.decimal128(18, 2)
PAYER, ACCOUNT = "111111111111", "100000000001"

# (customer, period, product_code, charge_category, pricing_rule_id, amount)
Line = tuple[str, date, str, str, str, str]


def ec2(customer: str, period: date, amount: str) -> Line:
    return (customer, period, "AmazonEC2", "usage", "list-price", amount)


def marts(lines: list[Line], final: set[date]) -> dict[str, pa.Table]:
    """The three published marts for these invoice lines (invoice total = sum of its lines; each line's
    cost on one day of the payer; every invoice priced with its own month's fx rate)."""
    invoices: dict[tuple[str, date], list[Decimal]] = {}
    for customer, period, *_, amount in lines:
        invoices.setdefault((customer, period), []).append(Decimal(amount))
    keys = sorted(invoices)
    costs = pa.array([Decimal(line[5]) for line in lines], MONEY)
    return {
        "daily_costs": pa.table(
            {
                "billing_period": [line[1] for line in lines],
                "usage_date": [line[1] for line in lines],
                "customer_id": [line[0] for line in lines],
                "payer_account_id": [PAYER] * len(lines),
                "usage_account_id": [ACCOUNT] * len(lines),
                "product_code": [line[2] for line in lines],
                "charge_category": [line[3] for line in lines],
                "currency_code": ["USD"] * len(lines),
                "unblended_cost": costs,
                "amortized_cost": costs,
                "billed_cost": costs,
                "line_item_count": pa.array([1] * len(lines), pa.int64()),
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
                "amortized_cost": costs,
                "adjustment_pct": pa.array([Decimal(0)] * len(lines), pa.decimal128(9, 4)),
                "billed_cost": costs,
                "amount": pa.array([Decimal(line[5]) for line in lines], AMOUNT),
            }
        ),
        "invoices": pa.table(
            {
                "customer_id": [c for c, _ in keys],
                "customer_name": [c.title() for c, _ in keys],
                "billing_period": [p for _, p in keys],
                "currency_code": ["USD"] * len(keys),
                "fx_rate_period": [p for _, p in keys],
                "line_count": [len(invoices[k]) for k in keys],
                "amortized_cost": pa.array([sum(invoices[k]) for k in keys], MONEY),
                "total_amount": pa.array([sum(invoices[k]) for k in keys], AMOUNT),
                "is_cur_final": [p in final for _, p in keys],
                "status": ["provisional"] * len(keys),
            }
        ),
    }


def staged_version(period: date, release: int, final: bool) -> tuple[StagedVersion, Delivery]:
    """The payer's CUR of `period` as staged by the load of release number `release`."""
    manifest_id = f"m-{release}"
    ref = VersionRef(PAYER, period, f"202612{release:02d}T060000000000Z-{manifest_id}")
    key = f"{PAYER}/r/{period:%Y-%m}/r-Manifest.json"
    version = StagedVersion(ref, manifest_id, key, "legacy", 1, 1, Decimal("1.00"), final)
    return version, Delivery(PAYER, period, manifest_id, "legacy", "r", key, ("s3://b/k",))


def september_adjustment(customer, carried_by, product, rule, published, locked, adjusted, amount) -> tuple:
    """A row of Serving.adjustments() restating September; carried_by None: pending."""
    money = (Decimal(published), Decimal(locked), Decimal(adjusted), Decimal(amount))
    return (customer, carried_by, SEPT, product, rule, carried_by is None, *money)


class Serving:
    """The serving database of one backend, and the steps of the pipeline on it."""

    def __init__(self, root: Path, connect: Callable[[], Database]) -> None:
        self.root, self.connect = root, connect
        self.releases = 0

    def next_release_id(self) -> str:
        self.releases += 1
        return f"r202612{self.releases:02d}T060000000000Z"

    def load(self, lines: list[Line], final: set[date], unit_tests: bool = False) -> None:
        """A daily load: the (restated) marts are published into the serving shadow, the serving models
        are built and tested there, and one release makes both shadows and the payer's new staged
        versions (one per billing period) live."""
        warehouse = DuckDBDatabase(self.root / "warehouse.duckdb")
        serving = self.connect()
        try:
            ensure_control_tables(serving)
            warehouse.replace_tables("marts", marts(lines, final))
            publish_marts(warehouse, serving)
        finally:
            warehouse.close()
            serving.close()
        self.build(unit_tests)
        release_id = self.next_release_id()
        periods = sorted({line[1] for line in lines})
        versions = tuple(staged_version(period, self.releases, period in final) for period in periods)
        self.commit(Release(release_id, "load", LOAD, tuple(v for v, _ in versions), tuple(d for _, d in versions)))

    def close(self, as_of: date, release: bool = True) -> list[str]:
        """The monthly close: lock from the tested serving shadow (the load just built and released it
        from the same inputs), rebuild and test the shadow with the new locks, release it. Without
        `release`, the next load's build and release make the locks live (a dbt build less)."""
        serving = self.connect()
        try:
            result = lock_final_invoices(
                serving,
                as_of,
                ClosePolicy({}),
                release_id=latest_release_id(serving),
                locked_at=datetime(as_of.year, as_of.month, as_of.day, 6),
            )
        finally:
            serving.close()
        assert result.blocked == [], [b.describe() for b in result.blocked]
        if release:
            self.build()
            self.commit(Release(self.next_release_id(), "close", CLOSE))
        return [i.invoice_number for i in result.locked]

    def commit(self, release: Release) -> None:
        serving = self.connect()
        try:
            commit_release(serving, release, now=datetime(2026, 12, 1, 6))
        finally:
            serving.close()

    def build(self, unit_tests: bool = False) -> None:
        """`dbt build --select tag:serving` into the shadow, as the pipeline runs it (models and data
        tests); the dbt unit tests of the serving models run once per backend (they do not read the data)."""
        settings = load_settings()
        args = ["build", "--select", "tag:serving", "--target", "serving", "--quiet"]
        args += ["--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_profiles_dir)]
        args += ["--target-path", str(self.root / "dbt-target"), "--log-path", str(self.root / "dbt-logs")]
        if not unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        result = invoke_dbt(args)
        failed = [
            f"{r.node.name}: {r.status} {r.message or ''}"
            for r in (result.result or [])
            if str(r.status) not in ("success", "pass")
        ]
        assert result.success, f"dbt build failed: {failed or result.exception}"
        if unit_tests:
            assert any(r.node.resource_type == "unit_test" for r in result.result), "no dbt unit test ran"

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

    def adjustments(self) -> list[tuple]:
        """billing.restatement_adjustments: (customer, carried by, adjusts, product, rule, pending,
        published, locked, adjusted, amount); charge category usage and currency USD checked too."""
        rows = self.rows(
            "select customer_id, billing_period, adjusts_billing_period, product_code, pricing_rule_id, is_pending, "
            "published_amount, locked_amount, adjusted_amount, amount, charge_category, currency_code, line_source "
            "from billing.restatement_adjustments order by customer_id, product_code"
        )
        assert {row[10:] for row in rows} <= {("usage", "USD", "adjustment")}
        return [row[:10] for row in rows]


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
    serving.load([*september, ec2("acme", OCT, "70.00")], {SEPT})
    assert serving.close(date(2026, 10, 8), release=False) == ["BF-202609-0001", "BF-202609-0002"]
    locked_september = [
        ("AmazonEC2", "aws", None, Decimal("8.00")),
        ("AmazonEC2", "aws", None, Decimal("100.00")),
        ("AmazonS3", "aws", None, Decimal("20.00")),
    ]

    # AWS restates September (with October's final CUR)
    restated = [
        ec2("acme", SEPT, "110.50"),
        ("acme", SEPT, "AmazonEC2", "tax", "tax_pass_through", "8.00"),
        ("acme", SEPT, "AWSLambda", "usage", "list-price", "5.25"),
        ("globex", SEPT, "AmazonS3", "usage", "globex-s3", "31.00"),
    ]
    serving.load([*restated, ec2("acme", OCT, "70.00")], {SEPT, OCT}, unit_tests=True)

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
    # the tax line is unchanged (8.00 - 8.00): no adjustment
    assert serving.adjustments() == [
        september_adjustment("acme", OCT, "AWSLambda", "list-price", "5.25", "0.00", "0.00", "5.25"),
        september_adjustment("acme", OCT, "AmazonEC2", "list-price", "110.50", "100.00", "0.00", "10.50"),
        september_adjustment("acme", OCT, "AmazonS3", "list-price", "0.00", "20.00", "0.00", "-20.00"),
        september_adjustment("globex", None, "AmazonS3", "globex-s3", "31.00", "30.00", "0.00", "1.00"),
    ]
    assert serving.rows(
        "select customer_id, adjusts_billing_period, product_code, published_amount, locked_amount, amount "
        "from billing.pending_adjustments"
    ) == [("globex", SEPT, "AmazonS3", Decimal("31.00"), Decimal("30.00"), Decimal("1.00"))]

    # October is closed: locking it from the tested shadow freezes the adjustments it carries
    assert serving.close(date(2026, 11, 8)) == ["BF-202610-0001"]

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
    assert serving.adjustments() == [
        september_adjustment("globex", None, "AmazonS3", "globex-s3", "31.00", "30.00", "0.00", "1.00"),
    ]

    # a second restatement of September (with November's final CUR): only the remaining difference, on November
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
    serving.load(restated_again, {SEPT, OCT, NOV})

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
    # EC2 112.00 - 100.00 - 10.50; S3 3.00 - 20.00 + 20.00; Lambda 5.25 - 0 - 5.25 = 0 (no row)
    assert serving.adjustments() == [
        september_adjustment("acme", NOV, "AmazonEC2", "list-price", "112.00", "100.00", "10.50", "1.50"),
        september_adjustment("acme", NOV, "AmazonS3", "list-price", "3.00", "20.00", "-20.00", "3.00"),
        september_adjustment("globex", NOV, "AmazonS3", "globex-s3", "31.00", "30.00", "0.00", "1.00"),
    ]
    assert serving.rows("select count(*) from billing.pending_adjustments") == [(0,)]

    # November is locked with its adjustments; nothing is left to adjust
    assert serving.close(date(2026, 12, 8)) == ["BF-202611-0001", "BF-202611-0002"]

    invoices = serving.invoices()
    assert invoices[("acme", NOV)] == ("final", "BF-202611-0001", Decimal("84.50"), 3, Decimal("4.50"))
    assert invoices[("globex", NOV)] == ("final", "BF-202611-0002", Decimal("13.00"), 2, Decimal("1.00"))
    assert serving.adjustments() == []
    assert serving.rows(
        "select invoice_number, total_amount, release_id from billing_control.invoice_locks order by invoice_number"
    ) == [
        ("BF-202609-0001", Decimal("128.00"), "r20261201T060000000000Z"),
        ("BF-202609-0002", Decimal("30.00"), "r20261201T060000000000Z"),
        ("BF-202610-0001", Decimal("65.75"), "r20261202T060000000000Z"),
        ("BF-202611-0001", Decimal("84.50"), "r20261204T060000000000Z"),
        ("BF-202611-0002", Decimal("13.00"), "r20261204T060000000000Z"),
    ]
