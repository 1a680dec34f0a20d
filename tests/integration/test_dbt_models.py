"""dbt project end to end on DuckDB: staged Parquet -> warehouse marts -> serving models; and the same
warehouse build through the dbt-redshift adapter against PostgreSQL (billflow_dev.aws.redshift_proxy),
whose marts must equal DuckDB's to the cent.

The staged partitions are written here by hand (a few rows, exact decimals) and priced with the demo
rule set of the seeds, so that every expected invoice figure below can be checked with pencil and paper
(billed = basis x (1 + pct/100) by the most specific pricing rule; each line rounded half away from zero):

customer            line (product, category, rule)                 basis            billed            amount
acme (amortized)    AmazonEC2 usage  acme-ec2-instances +8 %      100 (BoxUsage)   108               108.00
                    AmazonEC2 usage  acme-markup +5 %              12.3456789012    12.9629628463      12.96
                                                                   (SP covered; negation amortized 0)
                    AmazonEC2 tax    tax_pass_through              8.25             8.25               8.25
                    CUSTOM:acme-managed-services fee (monthly flat)                 250               250.00  -> 379.21
globex (unblended)  AmazonS3 usage   globex-s3 -10 % (service)     10.005           9.0045             9.00
                    AmazonS3 credit  globex-s3 -10 %               -1.50            -1.35             -1.35
                    AmazonRDS usage  globex-discount -3 %          40 (until 09-15) 38.80             38.80
                    AmazonEC2 usage  globex-discount -3 %          30 - 30 (SP covered unblended and its
                                     covered by acme's Savings Plan:  negation) re-rated to on-demand
                                                                   30 + 0           29.10             29.10  -> 75.55
initech             AmazonRDS usage  initech-discount -7.5 %       60 (from 09-16)  55.50             55.50
  (no credit        AWSLambda usage  initech-payer2-account -5 %   33.3333333333    31.6666666666     31.67
   pass-through)    AWSLambda credit -5.00: not billed                                                       -> 87.17
umbrella (tax 10 %, ComputeSavingsPlans commitment umbrella -2.25 % 5.00           4.8875             4.89
  no discount or    EdpDiscount -2.50, RiVolumeDiscount -0.40, SppDiscount -1.25 and AWS tax 3.10:
  SPP pass-through) not billed
                    CUSTOM:umbrella-operations fee 3 % of 4.8875                    0.146625           0.15
                    TAX tax_rate: 10 % of the subtotal 5.04                         0.504              0.50   ->  5.54
unassigned          AmazonEC2 usage  list-price 0 % (200000000004) 12.345           12.345            12.35  -> 12.35

The Savings Plan was bought in acme's account: acme's own covered usage keeps its amortized
(effective) cost, globex's is re-rated to its public on-demand cost.
Payer 111111111111 is invoiced by AWS (invoice id set), payer 222222222222 is not yet: acme and globex
are CUR-final, initech (accounts on both payers), umbrella and unassigned not.

Cost allocation by tag (TAG_VALUES; every other line is untagged): team=web on account 100000000001,
an empty team value on 100000000003 (untagged too), project=migration on 100000000004, the account
that moves from globex to initech on 2026-09-16. The tags change no invoice figure.
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
import yaml
from dbt.cli.main import dbtRunnerResult

from billflow.config import DBT_PROJECT_DIR, allocation_tag_keys, load_settings
from billflow.control.release import CLOSE, Release, commit_release
from billflow.control.schema import ensure_control_tables
from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.engines.postgres_database import PostgresDatabase
from billflow.rules import project_with_rules
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from billflow.staging.versions import COST_TABLE, TAG_TABLE, VersionRef
from billflow.storage.local import LocalStore
from billflow.warehouse.build import STAGED_SOURCE_SCHEMA, prepare_warehouse_build
from billflow.warehouse.dbt import invoke_dbt
from billflow_dev.aws.redshift_proxy import REDSHIFT_CATALOG_SQL, RedshiftProtocolShim
from tests.conftest import reused_home

PROFILES_DIR = DBT_PROJECT_DIR / "profiles" / "embedded"
# this test's own rule set (CSV seeds), so that the demo rule set can change without touching it
RULES_DIR = Path(__file__).resolve().parent / "rules"
PERIOD = date(2026, 9, 1)

# bought in acme's account 100000000002: acme keeps the benefit, globex is re-rated (rule 5)
SP_ARN = "arn:aws:savingsplans::100000000002:savingsplan/sp-0001"

# (usage account, day, line item type, product, unblended, amortized, raw rows); usage type
# f"{product}-usage" except where USAGE_TYPES says otherwise
USAGE_TYPES = {("100000000001", 3, "Usage"): "USE1-BoxUsage:m5.large"}
PAYER_1_ROWS = [
    ("100000000001", 3, "Usage", "AmazonEC2", "100", "100", 10),
    ("100000000002", 5, "SavingsPlanCoveredUsage", "AmazonEC2", "20", "12.3456789012", 4),
    ("100000000002", 5, "SavingsPlanNegation", "AmazonEC2", "-20", "0", 4),
    ("111111111111", 30, "Tax", "AmazonEC2", "8.25", "8.25", 1),
    ("100000000003", 10, "Usage", "AmazonS3", "10.005", "10.005", 7),
    ("100000000004", 15, "Usage", "AmazonRDS", "40", "40", 3),
    ("100000000004", 16, "Usage", "AmazonRDS", "60", "60", 3),
    ("100000000003", 20, "Credit", "AmazonS3", "-1.5", "-1.5", 1),
    ("100000000003", 12, "SavingsPlanCoveredUsage", "AmazonEC2", "30", "18", 2),
    ("100000000003", 12, "SavingsPlanNegation", "AmazonEC2", "-30", "0", 2),
]
PAYER_2_ROWS = [
    ("200000000001", 2, "Usage", "AWSLambda", "33.3333333333", "33.3333333333", 9),
    ("200000000001", 6, "Credit", "AWSLambda", "-5", "-5", 1),
    ("200000000002", 4, "SavingsPlanRecurringFee", "ComputeSavingsPlans", "50", "5", 1),
    ("200000000003", 4, "EdpDiscount", "AmazonEC2", "-2.5", "-2.5", 2),
    ("200000000003", 4, "RiVolumeDiscount", "AmazonEC2", "-0.4", "-0.4", 1),
    ("200000000003", 4, "SppDiscount", "AmazonEC2", "-1.25", "-1.25", 1),
    ("200000000004", 8, "Usage", "AmazonEC2", "12.345", "12.345", 5),
    ("222222222222", 30, "Tax", "AWSLambda", "3.1", "3.1", 1),
]
# (usage account, tag key) -> tag value of all the account's lines; other lines are untagged (null)
TAG_VALUES = {
    ("100000000001", "team"): "web",
    ("100000000003", "team"): "",  # an empty value is untagged
    ("100000000004", "project"): "migration",
}

EXPECTED_TOTALS = {
    "acme": Decimal("379.21"),
    "globex": Decimal("75.55"),
    "initech": Decimal("87.17"),
    "umbrella": Decimal("5.54"),
    "unassigned": Decimal("12.35"),
}
EXPECTED_CUR_FINAL = {"acme": True, "globex": True, "initech": False, "umbrella": False, "unassigned": False}

LOCK_NUMBER = "BF-2026-09-0001"
LOCKED_AT = datetime(2026, 10, 8, 12, 0, 0)
# acme was locked before a restatement: the lock differs from the published 379.21.
LOCKED_LINES = [
    ("AmazonEC2", "usage", "acme-markup", Decimal("111.75")),
    ("AmazonEC2", "tax", "tax_pass_through", Decimal("8.25")),
]
LOCKED_TOTAL = Decimal("120.00")


@dataclass(frozen=True)
class Warehouse:
    root: Path
    warehouse_path: Path
    serving_path: Path
    versions: tuple[VersionRef, ...]
    built: dbtRunnerResult


def _write_partition(staged_root: Path, payer: str, rows: list[tuple], invoice_id: str | None) -> VersionRef:
    """The payer's staged version of PERIOD (cost and tag rows), where a load stages it."""
    version = VersionRef(payer, PERIOD, f"20261001T060000000000Z-manifest-{payer}")
    records = [
        {
            "billing_period": PERIOD,
            "payer_account_id": payer,
            "usage_account_id": account,
            "usage_date": PERIOD.replace(day=day),
            "line_item_type": line_item_type,
            "product_code": product,
            "usage_type": USAGE_TYPES.get((account, day, line_item_type), f"{product}-usage"),
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
    (staged_root / version.cost_key).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=STAGED_SCHEMA), staged_root / version.cost_key)
    # cost by allocation tag: every row once per configured key (tagged by TAG_VALUES or untagged),
    # so each key reconciles
    tag_records = [
        {
            **{k: r[k] for k in STAGED_TAG_SCHEMA.names if k in r},
            "tag_key": key,
            "tag_value": TAG_VALUES.get((r["usage_account_id"], key)),
        }
        for key in allocation_tag_keys(RULES_DIR / "allocation_tag_keys.csv")
        for r in records
    ]
    (staged_root / version.tags_key).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(tag_records, schema=STAGED_TAG_SCHEMA), staged_root / version.tags_key)
    return version


def _dbt(root: Path, *args: str) -> dbtRunnerResult:
    """Run dbt in-process with the embedded profiles and the project at `root`, keeping its target folder
    where a load keeps it (dbt-target/<target>) and its logs in `root`."""
    target = args[args.index("--target") + 1]
    result = invoke_dbt(
        [
            *args,
            "--project-dir",
            str(root / "dbt_project"),
            "--profiles-dir",
            str(PROFILES_DIR),
            "--target-path",
            str(root / "dbt-target" / target),
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
    return result


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = reused_home(tmp_path_factory)  # where the loads of the tests before left dbt's parse
    project_with_rules(RULES_DIR, root / "dbt_project")
    staged_root = root / "staged"
    versions = [
        _write_partition(staged_root, "111111111111", PAYER_1_ROWS, invoice_id="EUINUS26-000001"),
        _write_partition(staged_root, "222222222222", PAYER_2_ROWS, invoice_id=None),
    ]
    env = {
        "BILLFLOW_HOME": str(root),
        "BILLFLOW_STAGED_URI": str(staged_root),
        "BILLFLOW_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "BILLFLOW_SERVING_PATH": str(root / "serving.duckdb"),
        "BILLFLOW_RULES_DIR": str(RULES_DIR),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        # as a load does: the staged versions go into a candidate warehouse, where dbt builds and tests
        # (never released here: the tests read the candidate)
        settings = load_settings()
        prepare_warehouse_build(settings, LocalStore(staged_root), versions, "r20261001T060000000000Z")
        _dbt(root, "seed", "--target", "warehouse")
        built = _dbt(root, "build", "--select", "tag:warehouse", "--target", "warehouse")
        yield Warehouse(
            root, settings.warehouse_candidate_path, Path(env["BILLFLOW_SERVING_PATH"]), tuple(versions), built
        )


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
        "acme": 4,
        "globex": 4,
        "initech": 2,
        "umbrella": 3,
        "unassigned": 1,
    }

    lines = {
        (customer, product, category, rule): amount
        for customer, product, category, rule, amount in _rows(
            warehouse.warehouse_path,
            "select customer_id, product_code, charge_category, pricing_rule_id, amount from marts.invoice_lines",
        )
    }
    assert lines == {
        ("acme", "AmazonEC2", "usage", "acme-ec2-instances"): Decimal("108.00"),  # usage type beats customer
        ("acme", "AmazonEC2", "usage", "acme-markup"): Decimal("12.96"),
        ("acme", "AmazonEC2", "tax", "tax_pass_through"): Decimal("8.25"),  # tax is not marked up
        ("acme", "CUSTOM:acme-managed-services", "fee", "acme-managed-services"): Decimal("250.00"),
        ("globex", "AmazonS3", "usage", "globex-s3"): Decimal("9.00"),  # service beats customer
        ("globex", "AmazonS3", "credit", "globex-s3"): Decimal("-1.35"),
        ("globex", "AmazonRDS", "usage", "globex-discount"): Decimal("38.80"),  # usage before the move
        ("globex", "AmazonEC2", "usage", "globex-discount"): Decimal("29.10"),  # re-rated: acme's Savings Plan
        ("initech", "AmazonRDS", "usage", "initech-discount"): Decimal("55.50"),  # usage on effective_to
        ("initech", "AWSLambda", "usage", "initech-payer2-account"): Decimal("31.67"),  # account rule
        ("umbrella", "ComputeSavingsPlans", "commitment", "umbrella-discount"): Decimal("4.89"),
        ("umbrella", "CUSTOM:umbrella-operations", "fee", "umbrella-operations"): Decimal("0.15"),
        ("umbrella", "TAX", "tax", "tax_rate"): Decimal("0.50"),
        ("unassigned", "AmazonEC2", "usage", "list-price"): Decimal("12.35"),  # unmapped, not dropped
    }

    staged_rows, mart_rows = _rows(
        warehouse.warehouse_path,
        "select (select sum(line_item_count) from staging.stg_cur__daily_costs), "
        "(select sum(line_item_count) from marts.daily_costs)",
    )[0]
    assert staged_rows == mart_rows == 58


def test_billing_bridge_attributes_every_difference_to_a_rule(warehouse: Warehouse) -> None:
    bridge = {
        (payer, customer): rest
        for payer, customer, *rest in _rows(
            warehouse.warehouse_path,
            "select payer_account_id, customer_id, staged_amortized_cost, basis_delta, rerating_delta, "
            "pass_through_delta, support_delta, pricing_delta, fx_delta, custom_items_delta, tax_delta, "
            "rounding_delta, invoiced_amount "
            "from marts.billing_bridge where billing_period = date '2026-09-01'",
        )
    }
    # staged amortized, basis, re-rating, pass-through, support, pricing, fx, custom items, tax,
    # rounding -> invoiced
    expected = {
        ("111111111111", "acme"): ["120.5956789012", 0, 0, 0, 0, "8.6172839451", 0, 0, 0, 0, "129.2129628463"],
        ("invoice", "acme"): [0, 0, 0, 0, 0, 0, 0, "250", 0, "-0.0029628463", "249.9970371537"],
        ("111111111111", "globex"): ["66.505", "-18", "30", 0, 0, "-2.9505", 0, 0, 0, 0, "75.5545"],
        ("222222222222", "initech"): ["28.3333333333", 0, 0, "5", 0, "-1.6666666667", 0, 0, 0, 0, "31.6666666666"],
        # the EDP (-2.50), RI volume (-0.40) and SPP (-1.25) discounts are not passed through: 4.15
        ("222222222222", "umbrella"): ["3.95", 0, 0, "4.15", 0, "-0.1125", 0, 0, "-3.1", 0, "4.8875"],
        ("invoice", "umbrella"): [0, 0, 0, 0, 0, 0, 0, "0.146625", "0.504", "0.001875", "0.6525"],
    }
    for key, figures in expected.items():
        assert bridge[key] == [Decimal(str(f)) for f in figures], key
    totals: dict[str, Decimal] = {}
    for (_, customer), rest in bridge.items():
        totals[customer] = totals.get(customer, Decimal(0)) + rest[-1]
    assert totals == EXPECTED_TOTALS

    unassigned = _rows(
        warehouse.warehouse_path,
        "select payer_account_id, usage_account_id, first_usage_date, usage_days, amortized_cost, line_item_count "
        "from marts.unassigned_accounts",
    )
    assert unassigned == [("222222222222", "200000000004", date(2026, 9, 8), 1, Decimal("12.345"), 5)]


def test_cost_allocation_by_tag_splits_each_customers_cost(warehouse: Warehouse) -> None:
    allocation = {
        (customer, key, value): rest
        for customer, key, value, *rest in _rows(
            warehouse.warehouse_path,
            "select customer_id, tag_key, tag_value, basis, unblended_cost, amortized_cost, basis_cost, "
            "line_item_count, share_of_customer_cost from marts.cost_allocation_by_tag "
            "where billing_period = date '2026-09-01'",
        )
    }
    # basis, unblended, amortized, basis cost, raw lines, share of the customer's basis cost
    expected = {
        # acme (amortized 120.5956789012): team=web is account 100000000001's EC2 usage
        ("acme", "team", "web"): ["amortized", "100", "100", "100", 10, "0.8292171072"],
        ("acme", "team", "untagged"): ["amortized", "8.25", "20.5956789012", "20.5956789012", 9, "0.1707828928"],
        ("acme", "project", "untagged"): ["amortized", "108.25", "120.5956789012", "120.5956789012", 19, "1"],
        # globex (unblended 48.505): the empty team value is untagged; project=migration is the RDS
        # usage of 100000000004 before its move (2026-09-15)
        ("globex", "team", "untagged"): ["unblended", "48.505", "66.505", "48.505", 15, "1"],
        ("globex", "project", "migration"): ["unblended", "40", "40", "40", 3, "0.8246572518"],
        ("globex", "project", "untagged"): ["unblended", "8.505", "26.505", "8.505", 12, "0.1753427482"],
        # initech (amortized 88.3333333333): 100000000004 from its move on (2026-09-16)
        ("initech", "team", "untagged"): ["amortized", "88.3333333333", "88.3333333333", "88.3333333333", 13, "1"],
        ("initech", "project", "migration"): ["amortized", "60", "60", "60", 3, "0.6792452830"],
        ("initech", "project", "untagged"): [
            "amortized",
            "28.3333333333",
            "28.3333333333",
            "28.3333333333",
            10,
            "0.3207547170",
        ],
    }
    for key, (basis, *figures, lines, share) in expected.items():
        assert allocation[key] == [basis, *(Decimal(f) for f in figures), lines, Decimal(share)], key
    assert {c for c, _, _ in allocation} == set(EXPECTED_TOTALS)
    assert {(c, k, v) for c, k, v in allocation if c in ("acme", "globex", "initech")} == set(expected)

    # for every customer and key, tagged + untagged = the customer's total in daily_costs
    daily = {
        customer: [unblended, amortized, lines]
        for customer, unblended, amortized, lines in _rows(
            warehouse.warehouse_path,
            "select customer_id, sum(unblended_cost), sum(amortized_cost), sum(line_item_count) "
            "from marts.daily_costs group by customer_id",
        )
    }
    sums: dict[tuple[str, str], list] = {}
    for (customer, key, _), (_, unblended, amortized, _, lines, _) in allocation.items():
        total = sums.setdefault((customer, key), [Decimal(0), Decimal(0), 0])
        total[0], total[1], total[2] = total[0] + unblended, total[1] + amortized, total[2] + lines
    assert {key for _, key in sums} == {"team", "project"}
    for (customer, key), total in sums.items():
        assert total == daily[customer], (customer, key)
    assert daily["acme"] == [Decimal("108.25"), Decimal("120.5956789012"), 19]


def serving_unit_tests() -> set[str]:
    """The dbt unit tests of the serving models (models/serving/*.yml)."""
    return {
        test["name"]
        for path in (DBT_PROJECT_DIR / "models" / "serving").glob("*.yml")
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }


def test_serving_shows_locked_invoice_as_final(warehouse: Warehouse) -> None:
    # publish: the marts go into the serving shadow, where the serving models read them
    with duckdb.connect(str(warehouse.serving_path)) as con:
        con.execute(f"attach '{warehouse.warehouse_path}' as warehouse_db (read_only)")
        con.execute("create schema published_shadow")
        for mart in ("daily_costs", "invoice_lines", "invoices"):
            con.execute(f"create table published_shadow.{mart} as select * from warehouse_db.marts.{mart}")
        con.execute("detach warehouse_db")
    serving = DuckDBDatabase(warehouse.serving_path)
    try:
        ensure_control_tables(serving)
    finally:
        serving.close()
    with duckdb.connect(str(warehouse.serving_path)) as con:
        con.execute(
            "insert into billing_control.invoice_locks (customer_id, billing_period, invoice_number, currency_code, "
            "total_amount, locked_at, release_id) values ('acme', ?, ?, 'USD', ?, ?, 'r20261008T120000000000Z')",
            [PERIOD, LOCK_NUMBER, LOCKED_TOTAL, LOCKED_AT],
        )
        con.executemany(
            "insert into billing_control.locked_invoice_lines (customer_id, billing_period, product_code, "
            "charge_category, pricing_rule_id, currency_code, amount, line_source) "
            "values ('acme', ?, ?, ?, ?, 'USD', ?, 'aws')",
            [[PERIOD, product, category, rule, amount] for product, category, rule, amount in LOCKED_LINES],
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BILLFLOW_HOME", str(warehouse.root))
        patch.setenv("BILLFLOW_SERVING_PATH", str(warehouse.serving_path))
        patch.setenv("BILLFLOW_RULES_DIR", str(RULES_DIR))
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        # the serving models, their data tests and their dbt unit tests, built and tested in the shadow
        built = _dbt(warehouse.root, "build", "--select", "tag:serving", "--target", "serving")
    unit_tests = {r.node.name for r in built.result if r.node.resource_type == "unit_test"}
    assert unit_tests == serving_unit_tests()
    assert "restated_lines_are_adjusted_on_the_next_open_invoice" in unit_tests
    # the release makes the tested shadow live
    serving = DuckDBDatabase(warehouse.serving_path)
    try:
        commit_release(serving, Release("r20261008T120000000000Z", "test", CLOSE), now=LOCKED_AT)
    finally:
        serving.close()

    invoices = {
        row[0]: row[1:]
        for row in _rows(
            warehouse.serving_path,
            "select customer_id, status, invoice_number, locked_at, total_amount, published_total_amount, "
            "line_count from billing.invoices where billing_period = date '2026-09-01'",
        )
    }
    assert invoices["acme"] == ("final", LOCK_NUMBER, LOCKED_AT, LOCKED_TOTAL, Decimal("379.21"), 2)
    assert invoices["globex"] == ("provisional", None, None, Decimal("75.55"), Decimal("75.55"), 4)
    assert {customer: row[3] for customer, row in invoices.items()} == {
        **EXPECTED_TOTALS,
        "acme": LOCKED_TOTAL,
    }

    acme_lines = _rows(
        warehouse.serving_path,
        "select product_code, charge_category, amount, status, invoice_number from billing.invoice_lines "
        "where customer_id = 'acme' order by charge_category desc",
    )
    assert acme_lines == [(p, c, a, "final", LOCK_NUMBER) for p, c, _, a in LOCKED_LINES]
    # rule 11: acme has no open invoice after 2026-09, so the restatement waits (379.21 - 120.00 = 259.21)
    assert _rows(
        warehouse.serving_path,
        "select customer_id, adjusts_billing_period, product_code, pricing_rule_id, amount "
        "from billing.pending_adjustments order by amount",
    ) == [
        ("acme", PERIOD, "AmazonEC2", "acme-markup", Decimal("-98.79")),  # 12.96 - 111.75
        ("acme", PERIOD, "AmazonEC2", "acme-ec2-instances", Decimal("108.00")),  # not in the lock
        ("acme", PERIOD, "CUSTOM:acme-managed-services", "acme-managed-services", Decimal("250.00")),
    ]

    published_daily, serving_daily = _rows(
        warehouse.serving_path,
        "select (select sum(billed_cost) from published.daily_costs), "
        "(select sum(billed_cost) from billing.daily_costs)",
    )[0]
    assert published_daily == serving_daily


# ---------------------------------------------------------------- the same build on the Redshift adapter

REDSHIFT_MARTS = (
    "invoices",
    "invoice_lines",
    "billing_bridge",
    "daily_costs",
    "cost_allocation_by_tag",
    "unassigned_accounts",
    "focus_charges",
)


@dataclass(frozen=True)
class RedshiftBuild:
    database: str
    built: dbtRunnerResult


@pytest.fixture(scope="module")
def redshift_warehouse(warehouse: Warehouse, postgres_server) -> Iterator[RedshiftBuild]:
    """The warehouse build of the same staged versions through the dbt-redshift adapter (profiles/aws and
    the adapter's own Redshift macros) against PostgreSQL: models, seeds, data tests and unit tests. Where
    a load on Redshift copies the staged versions from Spectrum into the schema `staged`, they are loaded
    here into ordinary tables of that schema."""
    database = postgres_server.create_database("redshift")
    connection = postgres_server.connect(database)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(REDSHIFT_CATALOG_SQL)
        staged = warehouse.root / "staged"
        PostgresDatabase(connection).replace_tables(
            STAGED_SOURCE_SCHEMA,
            {
                table: pa.concat_tables(pq.read_table(staged / key(v), partitioning=None) for v in warehouse.versions)
                for table, key in ((COST_TABLE, lambda v: v.cost_key), (TAG_TABLE, lambda v: v.tags_key))
            },
        )
    finally:
        connection.close()
    shim = RedshiftProtocolShim(postgres_server.host, postgres_server.port)
    env = {
        "BILLFLOW_REDSHIFT_HOST": shim.host,
        "BILLFLOW_REDSHIFT_PORT": str(shim.port),
        "BILLFLOW_REDSHIFT_USER": postgres_server.user,
        "BILLFLOW_REDSHIFT_PASSWORD": "unused-with-trust-auth",
        "BILLFLOW_REDSHIFT_DBNAME": database,
        "BILLFLOW_REDSHIFT_SSLMODE": "disable",
        "BILLFLOW_RULES_DIR": str(RULES_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            built = invoke_dbt(
                [
                    "build",
                    "--select",
                    "tag:warehouse",
                    "--target",
                    "warehouse",
                    "--project-dir",
                    str(warehouse.root / "dbt_project"),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR / "profiles" / "aws"),
                    "--target-path",
                    str(warehouse.root / "dbt-target" / "redshift"),
                    "--log-path",
                    str(warehouse.root / "logs"),
                    "--quiet",
                ]
            )
    finally:
        shim.close()
    yield RedshiftBuild(database, built)


def _redshift_rows(postgres_server, build: RedshiftBuild, sql: str) -> list[tuple]:
    connection = postgres_server.connect(build.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        connection.close()


def test_the_warehouse_builds_and_passes_every_test_through_the_dbt_redshift_adapter(
    warehouse: Warehouse, redshift_warehouse: RedshiftBuild
) -> None:
    results = redshift_warehouse.built.result or []
    failed = [
        f"{r.node.unique_id}: {r.status} {r.message}" for r in results if str(r.status) not in ("success", "pass")
    ]
    assert redshift_warehouse.built.success and failed == [], redshift_warehouse.built.exception or failed
    # every node of the DuckDB build, unit tests included, ran on Redshift's macros too
    assert {r.node.unique_id for r in results} == {r.node.unique_id for r in warehouse.built.result}
    kinds = {str(r.node.resource_type) for r in results}
    assert kinds == {"model", "seed", "test", "unit_test"}


def test_the_redshift_builds_marts_equal_the_duckdb_builds_to_the_cent(
    warehouse: Warehouse, redshift_warehouse: RedshiftBuild, postgres_server
) -> None:
    for mart in REDSHIFT_MARTS:
        columns = [
            name
            for (name,) in _rows(
                warehouse.warehouse_path,
                "select column_name from information_schema.columns where table_schema = 'marts' "
                f"and table_name = '{mart}' order by ordinal_position",
            )
        ]
        query = f"select {', '.join(columns)} from marts.{mart}"
        on_duckdb = sorted(_rows(warehouse.warehouse_path, query), key=repr)
        on_redshift = sorted(_redshift_rows(postgres_server, redshift_warehouse, query), key=repr)
        assert on_redshift == on_duckdb, mart
        assert on_duckdb, mart
    totals = _redshift_rows(postgres_server, redshift_warehouse, "select customer_id, total_amount from marts.invoices")
    assert dict(totals) == EXPECTED_TOTALS  # the hand computation in this module's docstring


def test_every_compiled_warehouse_model_and_data_test_parses_as_redshift_sql(
    redshift_warehouse: RedshiftBuild,
) -> None:
    import sqlglot
    from sqlglot.errors import ErrorLevel

    compiled = {
        r.node.name: r.node.compiled_code
        for r in redshift_warehouse.built.result
        if str(r.node.resource_type) in ("model", "test")
    }
    assert len(compiled) == 20 + 49  # the warehouse's models and data tests
    unparsable = {}
    for name, sql in compiled.items():
        try:
            sqlglot.parse(sql, read="redshift", error_level=ErrorLevel.RAISE)
        except sqlglot.errors.ParseError as error:
            unparsable[name] = str(error)[:300]
    assert unparsable == {}


@pytest.mark.parametrize("profiles", ["compose", "aws"])
def test_every_deployments_profiles_parse_for_both_targets(profiles: str, tmp_path: Path) -> None:
    """The Redshift/Postgres profiles cannot connect here, but the project must parse against them (the
    embedded profile's two targets parse and build in every load of the tests)."""
    for target in ("warehouse", "serving"):
        result = invoke_dbt(
            [
                "parse",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR / "profiles" / profiles),
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
