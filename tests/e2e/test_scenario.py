"""End-to-end scenario: a hand-built CUR and rule set, every customer's invoice worked out by hand.

The CUR (CUR_LINES, 37 raw lines, legacy Athena column names) covers September 2026 on two payers and
is landed as two legacy deliveries with their manifests; the rule set is tests/e2e/scenario_rules/.
One in-process daily load (stage, gate, dbt build, publish, serve) runs it. Every figure below follows
docs/BILLING_RULES.md and can be checked with pencil and paper; nothing in this file recomputes it.

Accounts. Payer 111111111111 (P1): 111111111111 alpha (the payer account: the support rows),
100000000001 alpha, 100000000002 bravo (owns Savings Plan sp-bravo-1), 100000000003 charlie,
100000000004 alpha until 09-15 and echo from 09-16 (a mid-month move), 100000000005 delta (owns the RDS
reservation ri-delta-1). Payer 222222222222 (P2): 200000000001 echo, 200000000002 delta,
200000000099 in no assignment -> `unassigned` (rule 1).

Pricing (rule 2): `default` global +3 %; alpha: `alpha-all` customer +10 % (`alpha-0-fallback` 0 % has a
lower priority, `alpha-2025` +50 % ended on 09-01), `alpha-s3` service AmazonS3 +5 %, `alpha-boxusage`
usage type AmazonEC2 %BoxUsage% +20 %; `charlie-s3` service -10 %; `delta-a5` account 100000000005
-5 %; `echo-all` customer +8 %.

Basis and re-rating (rules 3 and 5), per staged row in USD:
  bravo (unblended): its own SP-covered EC2 20.00 and negation -20.00 stay as they are (bravo bought the
    plan): 0; its SP recurring fee 35.00 (amortized would be 35.00 - 30.00 used = 5.00); S3 5.00.
  charlie (amortized): SP-covered EC2 amortized 18.00 on bravo's plan -> re-rated to public on-demand
    31.50 (not the unblended 30.00), its negation 0 -> 0: rerating_delta +13.50.
  delta (amortized, rerate_covered_usage=all): RDS covered by its own reservation, amortized 6.00 ->
    public on-demand 10.20: rerating_delta +4.20; its RIFee 1.00 + 0.50 = 1.50 is not re-rated.

Support (rule 6), P1, AWSSupportBusiness: pool = fee 240.00 + refund -40.00 = 200.00, on alpha's payer
account (billed 0 there). Eligible spend = re-rated basis of usage and commitment rows on P1:
  alpha   100 (BoxUsage 4 x 25) + 41.15 (EBS) + 58.85 (S3) + 100 (RDS 60 + 40, to 09-15)  = 300.00
  bravo   20 - 20 (SP-covered + negation) + 35 (SP fee) + 5 (S3)                         =  40.00
  charlie 31.50 (re-rated) + 0 (negation) + 68.50 (S3 40 + 28.50); refund -8 not eligible = 100.00
  delta   10.20 (re-rated) + 1.50 (RIFee) + 108.30 (EC2 3 x 36.10)                      = 120.00
  echo    40 (RDS 09-16, after the move)                                                 =  40.00
                                                                                 total  = 600.00
  shares round(200 x eligible / 600, 10): delta 40, charlie 33.3333333333, bravo 13.3333333333,
  echo 13.3333333333; alpha (largest) 200 - 99.9999999999 = 100.0000000001.
  delta is partner_plan: its 40 is absorbed; it pays max(5 % x spend, 10000 KRW) instead.

customer      line (product, category, pricing rule)        computation                       unrounded   amount
alpha         AmazonEC2 usage alpha-boxusage                 100 x 1.20                             120     120.00
 USD          AmazonEC2 usage alpha-all                      41.15 (EBS) x 1.10                   45.265     45.27
 amortized    AmazonEC2 discount alpha-boxusage              EDP -4.25 (BoxUsage) x 1.20            -5.1     -5.10
              AmazonEC2 tax tax_pass_through                 at cost                                   8      8.00
              AmazonS3 usage alpha-s3                        58.85 x 1.05                        61.7925     61.79
              AmazonS3 credit alpha-s3                       -10 x 1.05                            -10.5    -10.50
              AmazonRDS usage alpha-all                      100 (09-10, 09-15) x 1.10               110    110.00
              AWSSupportBusiness support support_realloc.    share                        100.0000000001    100.00
              CUSTOM:alpha-managed fee (flat, monthly)       (alpha-old-fee ended 09-01)             150    150.00
                                                             total 579.46, unrounded 579.4575000001, diff 0.0024999999
bravo         AmazonEC2 usage default                        (20 - 20) x 1.03                          0      0.00
 USD          ComputeSavingsPlans commitment default         35 x 1.03                             36.05     36.05
 unblended    AmazonS3 usage default                         5 x 1.03                               5.15      5.15
              AWSSupportBusiness support support_realloc.    share                         13.3333333333     13.33
                                                             total 54.53, unrounded 54.5333333333, diff -0.0033333333
charlie       AmazonEC2 usage default                        31.50 (re-rated) x 1.03              32.445     32.45
 USD, no      AmazonS3 usage charlie-s3                      68.50 x 0.90                          61.65     61.65
 discount or  AmazonS3 refund charlie-s3                     -8 x 0.90 (billed like its charge)     -7.2     -7.20
 credit pass- credit -12.00 and private-rate discount -3.00: not passed through, no line
 through      AWSSupportBusiness support support_realloc.    share                         33.3333333333     33.33
                                                             total 120.23, unrounded 120.2283333333, diff 0.0016666667
delta         AmazonRDS usage delta-a5                       10.20 x 0.95 = 9.69 USD x 1350       13081.5     13082
 KRW, 1 USD = AmazonRDS commitment delta-a5                  1.50 x 0.95 = 1.425 x 1350           1923.75      1924
 1350 KRW     AmazonEC2 usage delta-a5                       108.30 x 0.95 = 102.885 x 1350     138894.75    138895
 (Sept. rate; AmazonEC2 usage default                        20 x 1.03 = 20.60 x 1350 (P2)         27810     27810
 Aug. 1300)   AmazonEC2 tax tax_pass_through                 5 x 1350                               6750      6750
              SUPPORT:partner_plan support partner_support_plan
                                            spend 181710; max(5 % = 9085.5, 10000)                 10000     10000
              CUSTOM:delta-platform fee (flat, in KRW)                                            25000     25000
                                                             total 223461, unrounded 223460, diff 1
echo          AmazonRDS usage echo-all                       40 (09-16) x 1.08                      43.2     43.20
 USD, tax     AmazonEC2 usage echo-all                       123.45 (2 x 61.725) x 1.08          133.326    133.33
 rate 10 %    AWS tax 12.00: replaced by the tax rate, no line
              AWSSupportBusiness support support_realloc.    share                         13.3333333333     13.33
              CUSTOM:echo-welcome credit (2 %, one-off)      -2 % x spend 176.526               -3.53052     -3.53
                                                             (echo-setup was one-off in August)
              TAX tax tax_rate                               10 % x subtotal 186.33               18.633     18.63
                                                             total 204.96, unrounded 204.9618133333, diff -0.0018133333
unassigned    AmazonS3 usage default                         7.77 x 1.03                          8.0031      8.00
                                                             total 8.00, unrounded 8.0031, diff -0.0031

Staged amortized totals: P1 740.05 (alpha 493.75 = support 200 + 193.75 on 100000000001 + RDS 100;
bravo 22 = 12 + 0 + 5 + 5; charlie 63.50 = 18 + 0 + 68.50 - 8 - 12 - 3; delta 120.80 = 6 + 1.50 +
108.30 + 5; echo 40), P2 163.22 (echo 135.45 = 123.45 + 12; delta 20; unassigned 7.77).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billflow.config import load_settings
from billflow.rules import project_with_rules
from billflow_dev.csv_cur import land_csv_as_legacy_delivery
from tests.conftest import reused_home
from tests.runs import load

pytestmark = pytest.mark.e2e

RULES_DIR = Path(__file__).resolve().parent / "scenario_rules"

P1, P2 = "111111111111", "222222222222"
ALPHA, BRAVO, CHARLIE, MOVED, DELTA = (f"10000000000{n}" for n in range(1, 6))
ECHO_P2, DELTA_P2, UNMAPPED = "200000000001", "200000000002", "200000000099"
SP_ARN = "arn:aws:savingsplans::100000000002:savingsplan/sp-bravo-1"  # owner: bravo's account
RI_ARN = "arn:aws:rds:us-east-1:100000000005:ri:ri-delta-1"  # owner: delta's account
SUPPORT = "AWSSupportBusiness"
BOX = "BoxUsage:m5.large"
S3 = "TimedStorage-ByteHrs"
RDS = "InstanceUsage:db.t3.medium"

# extra CUR columns by short name
COLUMN = {
    "od": "pricing_public_on_demand_cost",
    "sp": "savings_plan_savings_plan_a_r_n",
    "sp_cost": "savings_plan_savings_plan_effective_cost",
    "sp_commitment": "savings_plan_total_commitment_to_date",
    "sp_used": "savings_plan_used_commitment",
    "ri": "reservation_reservation_a_r_n",
    "ri_cost": "reservation_effective_cost",
    "ri_unused_upfront": "reservation_unused_amortized_upfront_fee_for_billing_period",
    "ri_unused_recurring": "reservation_unused_recurring_fee",
}

# payer, usage account, day of September, line item type, product, usage type, unblended cost, extra columns
# fmt: off
CUR_LINES = [
    # P1 support, on the payer account (alpha's): pool 240 - 40 = 200
    (P1, P1, 1, "Fee", SUPPORT, "Dollar", "240.00", {}),
    (P1, P1, 6, "Refund", SUPPORT, "Dollar", "-40.00", {}),
    # alpha
    *[(P1, ALPHA, day, "Usage", "AmazonEC2", BOX, "25.00", {"od": "25.00"}) for day in (1, 2, 3, 4)],
    (P1, ALPHA, 2, "Usage", "AmazonEC2", "EBS:VolumeUsage.gp3", "41.15", {"od": "41.15"}),
    (P1, ALPHA, 3, "Usage", "AmazonS3", S3, "30.00", {"od": "30.00"}),
    (P1, ALPHA, 4, "Usage", "AmazonS3", S3, "28.85", {"od": "28.85"}),
    (P1, ALPHA, 30, "EdpDiscount", "AmazonEC2", BOX, "-4.25", {}),
    (P1, ALPHA, 30, "Credit", "AmazonS3", "", "-10.00", {}),
    (P1, ALPHA, 30, "Tax", "AmazonEC2", "", "8.00", {}),
    # the account that moves: alpha until 09-15, echo from 09-16
    (P1, MOVED, 10, "Usage", "AmazonRDS", RDS, "60.00", {"od": "60.00"}),
    (P1, MOVED, 15, "Usage", "AmazonRDS", RDS, "40.00", {"od": "40.00"}),
    (P1, MOVED, 16, "Usage", "AmazonRDS", RDS, "40.00", {"od": "40.00"}),
    # bravo: buys the Savings Plan (commitment 35, used 12 + 18 = 30) and covers its own usage with it
    (P1, BRAVO, 1, "SavingsPlanRecurringFee", "ComputeSavingsPlans", "ComputeSP:1yrNoUpfront", "35.00",
        {"sp": SP_ARN, "sp_commitment": "35.00", "sp_used": "30.00"}),
    (P1, BRAVO, 5, "SavingsPlanCoveredUsage", "AmazonEC2", BOX, "20.00",
        {"sp": SP_ARN, "sp_cost": "12.00", "od": "20.00"}),
    (P1, BRAVO, 5, "SavingsPlanNegation", "AmazonEC2", BOX, "-20.00", {"sp": SP_ARN}),
    (P1, BRAVO, 7, "Usage", "AmazonS3", S3, "5.00", {"od": "5.00"}),
    # charlie: usage covered by bravo's plan; no discount or credit pass-through; a refund of S3 usage
    (P1, CHARLIE, 5, "SavingsPlanCoveredUsage", "AmazonEC2", BOX, "30.00",
        {"sp": SP_ARN, "sp_cost": "18.00", "od": "31.50"}),
    (P1, CHARLIE, 5, "SavingsPlanNegation", "AmazonEC2", BOX, "-30.00", {"sp": SP_ARN}),
    (P1, CHARLIE, 8, "Usage", "AmazonS3", S3, "40.00", {"od": "40.00"}),
    (P1, CHARLIE, 9, "Usage", "AmazonS3", S3, "28.50", {"od": "28.50"}),
    (P1, CHARLIE, 20, "Refund", "AmazonS3", S3, "-8.00", {}),
    (P1, CHARLIE, 30, "Credit", "AmazonEC2", "", "-12.00", {}),
    (P1, CHARLIE, 30, "PrivateRateDiscount", "AmazonEC2", BOX, "-3.00", {}),
    # delta: its own reservation covers RDS; re-rated all the same (rerate_covered_usage = all)
    (P1, DELTA, 1, "RIFee", "AmazonRDS", "HeavyUsage:db.r5.large", "40.00",
        {"ri": RI_ARN, "ri_unused_upfront": "1.00", "ri_unused_recurring": "0.50"}),
    (P1, DELTA, 8, "DiscountedUsage", "AmazonRDS", "InstanceUsage:db.r5.large", "0",
        {"ri": RI_ARN, "ri_cost": "6.00", "od": "10.20"}),
    *[(P1, DELTA, day, "Usage", "AmazonEC2", "BoxUsage:c5.xlarge", "36.10", {"od": "36.10"}) for day in (11, 12, 13)],
    (P1, DELTA, 30, "Tax", "AmazonEC2", "", "5.00", {}),
    # payer 2 (no support)
    (P2, ECHO_P2, 21, "Usage", "AmazonEC2", BOX, "61.725", {"od": "61.725"}),
    (P2, ECHO_P2, 22, "Usage", "AmazonEC2", BOX, "61.725", {"od": "61.725"}),
    (P2, ECHO_P2, 30, "Tax", "AmazonEC2", "", "12.00", {}),
    (P2, DELTA_P2, 9, "Usage", "AmazonEC2", "BoxUsage:t3.micro", "20.00", {"od": "20.00"}),
    (P2, UNMAPPED, 11, "Usage", "AmazonS3", S3, "7.77", {"od": "7.77"}),
]
# fmt: on

CUR_HEADER = [
    "identity_line_item_id",
    "identity_time_interval",
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "bill_bill_type",
    "bill_invoice_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_currency_code",
    "product_region",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    *COLUMN.values(),
]


def D(value: str) -> Decimal:
    return Decimal(value)


# customer -> invoice lines: (product_code, charge_category, pricing_rule_id, line_source, unrounded, amount)
EXPECTED_LINES = {
    "alpha": [
        ("AmazonEC2", "usage", "alpha-boxusage", "aws", D("120"), D("120.00")),
        ("AmazonEC2", "usage", "alpha-all", "aws", D("45.265"), D("45.27")),
        ("AmazonEC2", "discount", "alpha-boxusage", "aws", D("-5.1"), D("-5.10")),
        ("AmazonEC2", "tax", "tax_pass_through", "aws", D("8"), D("8.00")),
        ("AmazonS3", "usage", "alpha-s3", "aws", D("61.7925"), D("61.79")),
        ("AmazonS3", "credit", "alpha-s3", "aws", D("-10.5"), D("-10.50")),
        ("AmazonRDS", "usage", "alpha-all", "aws", D("110"), D("110.00")),
        ("AWSSupportBusiness", "support", "support_reallocation", "support", D("100.0000000001"), D("100.00")),
        ("CUSTOM:alpha-managed", "fee", "alpha-managed", "custom", D("150"), D("150.00")),
    ],
    "bravo": [
        ("AmazonEC2", "usage", "default", "aws", D("0"), D("0.00")),
        ("ComputeSavingsPlans", "commitment", "default", "aws", D("36.05"), D("36.05")),
        ("AmazonS3", "usage", "default", "aws", D("5.15"), D("5.15")),
        ("AWSSupportBusiness", "support", "support_reallocation", "support", D("13.3333333333"), D("13.33")),
    ],
    "charlie": [
        ("AmazonEC2", "usage", "default", "aws", D("32.445"), D("32.45")),
        ("AmazonS3", "usage", "charlie-s3", "aws", D("61.65"), D("61.65")),
        ("AmazonS3", "refund", "charlie-s3", "aws", D("-7.2"), D("-7.20")),
        ("AWSSupportBusiness", "support", "support_reallocation", "support", D("33.3333333333"), D("33.33")),
    ],
    "delta": [
        ("AmazonRDS", "usage", "delta-a5", "aws", D("13081.5"), D("13082")),
        ("AmazonRDS", "commitment", "delta-a5", "aws", D("1923.75"), D("1924")),
        ("AmazonEC2", "usage", "delta-a5", "aws", D("138894.75"), D("138895")),
        ("AmazonEC2", "usage", "default", "aws", D("27810"), D("27810")),
        ("AmazonEC2", "tax", "tax_pass_through", "aws", D("6750"), D("6750")),
        ("SUPPORT:partner_plan", "support", "partner_support_plan", "support", D("10000"), D("10000")),
        ("CUSTOM:delta-platform", "fee", "delta-platform", "custom", D("25000"), D("25000")),
    ],
    "echo": [
        ("AmazonRDS", "usage", "echo-all", "aws", D("43.2"), D("43.20")),
        ("AmazonEC2", "usage", "echo-all", "aws", D("133.326"), D("133.33")),
        ("AWSSupportBusiness", "support", "support_reallocation", "support", D("13.3333333333"), D("13.33")),
        ("CUSTOM:echo-welcome", "credit", "echo-welcome", "custom", D("-3.53052"), D("-3.53")),
        ("TAX", "tax", "tax_rate", "tax", D("18.633"), D("18.63")),
    ],
    "unassigned": [
        ("AmazonS3", "usage", "default", "aws", D("8.0031"), D("8.00")),
    ],
}

# customer -> (currency, total, unrounded total, rounding difference)
EXPECTED_INVOICES = {
    "alpha": ("USD", D("579.46"), D("579.4575000001"), D("0.0024999999")),
    "bravo": ("USD", D("54.53"), D("54.5333333333"), D("-0.0033333333")),
    "charlie": ("USD", D("120.23"), D("120.2283333333"), D("0.0016666667")),
    "delta": ("KRW", D("223461"), D("223460"), D("1")),
    "echo": ("USD", D("204.96"), D("204.9618133333"), D("-0.0018133333")),
    "unassigned": ("USD", D("8.00"), D("8.0031"), D("-0.0031")),
}

# (payer, customer) -> (staged_amortized_cost, basis_cost, rerating_delta), USD
EXPECTED_BRIDGE_START = {
    (P1, "alpha"): (D("493.75"), D("493.75"), D("0")),
    (P1, "bravo"): (D("22.00"), D("40.00"), D("0")),
    (P1, "charlie"): (D("63.50"), D("63.50"), D("13.50")),
    (P1, "delta"): (D("120.80"), D("120.80"), D("4.20")),
    (P1, "echo"): (D("40.00"), D("40.00"), D("0")),
    (P2, "delta"): (D("20.00"), D("20.00"), D("0")),
    (P2, "echo"): (D("135.45"), D("135.45"), D("0")),
    (P2, "unassigned"): (D("7.77"), D("7.77"), D("0")),
}
EXPECTED_STAGED_TOTALS = {P1: D("740.05"), P2: D("163.22")}

BRIDGE_STEPS = [
    "basis_cost",
    "rerating_delta",
    "pass_through_delta",
    "support_delta",
    "pricing_delta",
    "fx_delta",
    "custom_items_delta",
    "tax_delta",
    "rounding_delta",
]


@dataclass(frozen=True)
class Outcome:
    serving_lines: list[tuple]
    serving_invoices: list[tuple]
    mart_lines: list[dict]
    mart_invoices: list[dict]
    bridge: list[dict]
    unassigned_accounts: list[tuple]


def write_cur_csv(path: Path, payer: str) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUR_HEADER, restval="")
        writer.writeheader()
        for number, (line_payer, account, day, kind, product, usage_type, unblended, extra) in enumerate(CUR_LINES):
            if line_payer != payer:
                continue
            row = {
                "identity_line_item_id": f"line-{number:03d}",
                "identity_time_interval": f"2026-09-{day:02d}T00:00:00Z/2026-09-{day:02d}T23:59:59Z",
                "bill_payer_account_id": payer,
                "bill_billing_period_start_date": "2026-09-01T00:00:00Z",
                "bill_bill_type": "Refund" if kind == "Refund" else "Anniversary",
                "line_item_usage_account_id": account,
                "line_item_line_item_type": kind,
                "line_item_usage_start_date": f"2026-09-{day:02d}T00:00:00Z",
                "line_item_product_code": product,
                "line_item_usage_type": usage_type,
                "line_item_operation": "",
                "line_item_currency_code": "USD",
                "product_region": "us-east-1",
                "line_item_usage_amount": "1",
                "line_item_unblended_cost": unblended,
            }
            row.update({COLUMN[name]: value for name, value in extra.items()})
            writer.writerow(row)
    return path


def rows_as_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, airflow_db) -> Outcome:
    """One daily load of the scenario CUR with the scenario rule set; what serving and the marts hold after it."""
    home = reused_home(tmp_path_factory)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BILLFLOW_HOME", str(home))
        for name in (
            "LANDING_URI",
            "STAGED_URI",
            "WAREHOUSE_PATH",
            "SERVING_PATH",
            "SERVING_CONN_ID",
            "WAREHOUSE_CONN_ID",
            "DBT_PROFILES_DIR",
            "DBT_TARGET",
            "EXPORT_URI",
            "STAGED_SCHEMA",
        ):
            env.delenv(f"BILLFLOW_{name}", raising=False)
        env.setenv("BILLFLOW_DBT_PROJECT_DIR", str(project_with_rules(RULES_DIR, home / "dbt_project")))
        for payer in (P1, P2):
            cur_csv = write_cur_csv(home / f"cur-{payer}.csv", payer)
            land_csv_as_legacy_delivery(cur_csv, home / "landing", report_name="scenario", assembly_id=f"a-{payer}")
        settings = load_settings()

        report = load()

    assert sum(c["raw_rows"] for c in report.returns["plan_release"]["candidates"]) == len(CUR_LINES)
    assert report.returns["release"] == ["2026-09"]
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        serving_lines = con.execute(
            "select customer_id, product_code, charge_category, pricing_rule_id, currency_code, amount "
            "from billing.invoice_lines where billing_period = date '2026-09-01' order by all"
        ).fetchall()
        serving_invoices = con.execute(
            "select customer_id, currency_code, status, total_amount "
            "from billing.invoices where billing_period = date '2026-09-01' order by all"
        ).fetchall()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        mart_lines = rows_as_dicts(con, "select * from marts.invoice_lines")
        mart_invoices = rows_as_dicts(con, "select * from marts.invoices")
        bridge = rows_as_dicts(con, "select * from marts.billing_bridge")
        unassigned_accounts = con.execute(
            "select payer_account_id, usage_account_id, amortized_cost from marts.unassigned_accounts order by all"
        ).fetchall()
    return Outcome(serving_lines, serving_invoices, mart_lines, mart_invoices, bridge, unassigned_accounts)


def expected_serving_lines() -> list[tuple]:
    return sorted(
        (
            (customer, product, category, rule, EXPECTED_INVOICES[customer][0], amount)
            for customer, lines in EXPECTED_LINES.items()
            for product, category, rule, _, _, amount in lines
        ),
        key=str,
    )


def test_each_customer_is_invoiced_exactly_the_hand_computed_lines(outcome):
    assert sorted(outcome.serving_lines, key=str) == expected_serving_lines()


def test_each_invoice_total_is_the_hand_computed_sum_of_its_rounded_lines(outcome):
    actual = {customer: (currency, status, total) for customer, currency, status, total in outcome.serving_invoices}

    assert actual == {
        customer: (currency, "provisional", total) for customer, (currency, total, *_) in EXPECTED_INVOICES.items()
    }


def test_the_warehouse_lines_keep_each_unrounded_value_and_its_source(outcome):
    actual = [
        (
            line["customer_id"],
            line["product_code"],
            line["charge_category"],
            line["pricing_rule_id"],
            line["line_source"],
            line["invoice_billed_cost"],
            line["amount"],
        )
        for line in outcome.mart_lines
    ]

    expected = [(customer, *line) for customer, lines in EXPECTED_LINES.items() for line in lines]
    assert sorted(actual, key=str) == sorted(expected, key=str)


def test_the_warehouse_invoices_carry_the_unrounded_total_and_the_rounding_difference(outcome):
    actual = {
        invoice["customer_id"]: (
            invoice["currency_code"],
            invoice["total_amount"],
            invoice["unrounded_total"],
            invoice["rounding_difference"],
        )
        for invoice in outcome.mart_invoices
    }

    assert actual == EXPECTED_INVOICES


def test_the_krw_invoice_converts_usd_lines_at_the_rate_of_its_billing_period(outcome):
    aws_lines = [line for line in outcome.mart_lines if line["line_source"] == "aws"]
    currencies = {
        (line["customer_id"] == "delta", line["source_currency_code"], line["fx_rate"], line["currency_code"])
        for line in aws_lines
    }

    # delta: September's rate 1350, not August's 1300; the others are invoiced in the CUR currency
    assert currencies == {(True, "USD", D("1350"), "KRW"), (False, "USD", D("1"), "USD")}
    assert all(line["billed_cost"] * line["fx_rate"] == line["invoice_billed_cost"] for line in aws_lines)


def test_an_account_without_assignment_is_billed_to_unassigned_and_listed(outcome):
    assert outcome.unassigned_accounts == [(P2, UNMAPPED, D("7.77"))]


def test_the_bridge_starts_from_the_staged_cost_of_each_payer_and_customer(outcome):
    payer_rows = [row for row in outcome.bridge if row["bridge_level"] == "payer"]
    staged_totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in payer_rows:
        staged_totals[row["payer_account_id"]] += row["staged_amortized_cost"]

    assert {
        (row["payer_account_id"], row["customer_id"]): (
            row["staged_amortized_cost"],
            row["basis_cost"],
            row["rerating_delta"],
        )
        for row in payer_rows
    } == EXPECTED_BRIDGE_START
    assert dict(staged_totals) == EXPECTED_STAGED_TOTALS


def test_every_bridge_row_adds_up_from_the_staged_cost_to_the_invoiced_amount(outcome):
    for row in outcome.bridge:
        where = (row["bridge_level"], row["payer_account_id"], row["customer_id"])
        assert row["staged_amortized_cost"] + row["basis_delta"] == row["basis_cost"], where
        assert sum(row[step] for step in BRIDGE_STEPS) == row["invoiced_amount"], where


def test_the_bridge_ends_at_each_invoice_total(outcome):
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    for row in outcome.bridge:
        invoiced[row["customer_id"]] += row["invoiced_amount"]

    assert dict(invoiced) == {customer: total for customer, (_, total, _, _) in EXPECTED_INVOICES.items()}
