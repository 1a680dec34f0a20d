"""Hand-written raw CUR lines for tests: a few rows whose staged figures a reader can check by eye."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

PAYER = "111111111111"
ACCOUNT_A = "100000000001"
ACCOUNT_B = "100000000002"
SP_ARN = f"arn:aws:savingsplans::{ACCOUNT_B}:savingsplan/sp-1"
RI_ARN = f"arn:aws:ec2:us-east-1:{ACCOUNT_B}:reserved-instances/ri-1"

# type, account, day, hour, product, unblended, extra columns
RAW_LINES = [
    ("Usage", ACCOUNT_A, 1, 10, "AmazonEC2", 1.25, {"pricing_public_on_demand_cost": 1.25}),
    ("Usage", ACCOUNT_A, 1, 11, "AmazonEC2", 0.75, {"pricing_public_on_demand_cost": 0.75}),
    (
        "SavingsPlanCoveredUsage",
        ACCOUNT_A,
        2,
        0,
        "AmazonEC2",
        2.00,
        {"savings_plan_savings_plan_effective_cost": 1.40, "savings_plan_savings_plan_a_r_n": SP_ARN},
    ),
    ("SavingsPlanNegation", ACCOUNT_A, 2, 0, "AmazonEC2", -2.00, {"savings_plan_savings_plan_a_r_n": SP_ARN}),
    (
        "SavingsPlanRecurringFee",
        ACCOUNT_B,
        2,
        0,
        "ComputeSavingsPlans",
        1.50,
        {
            "savings_plan_total_commitment_to_date": 1.50,
            "savings_plan_used_commitment": 1.40,
            "savings_plan_savings_plan_a_r_n": SP_ARN,
        },
    ),
    (
        "DiscountedUsage",
        ACCOUNT_A,
        3,
        0,
        "AmazonEC2",
        0.0,
        {"reservation_effective_cost": 0.90, "reservation_reservation_a_r_n": RI_ARN},
    ),
    (
        "RIFee",
        ACCOUNT_B,
        1,
        0,
        "AmazonEC2",
        20.00,
        {
            "reservation_unused_amortized_upfront_fee_for_billing_period": 0.30,
            "reservation_unused_recurring_fee": 0.20,
            "reservation_reservation_a_r_n": RI_ARN,
        },
    ),
    ("Fee", ACCOUNT_B, 1, 0, "AmazonEC2", 100.00, {"reservation_reservation_a_r_n": RI_ARN}),
    ("Tax", ACCOUNT_A, 1, 0, "AmazonEC2", 0.33, {}),
    ("Refund", ACCOUNT_B, 5, 0, "ComputeSavingsPlans", -1.00, {"savings_plan_savings_plan_a_r_n": SP_ARN}),
    ("Refund", ACCOUNT_A, 5, 0, "AmazonS3", -0.50, {}),
    ("Credit", ACCOUNT_A, 5, 0, "AmazonEC2", -3.00, {}),
]

# line item type -> (raw rows, unblended, amortized), worked out by hand from RAW_LINES and the
# amortized-cost rule (docs/ARCHITECTURE.md)
EXPECTED_TOTALS = {
    "Usage": (2, "2.00", "2.00"),
    "SavingsPlanCoveredUsage": (1, "2.00", "1.40"),
    "SavingsPlanNegation": (1, "-2.00", "0.00"),
    "SavingsPlanRecurringFee": (1, "1.50", "0.10"),
    "DiscountedUsage": (1, "0.00", "0.90"),
    "RIFee": (1, "20.00", "0.50"),
    "Fee": (1, "100.00", "0.00"),
    "Tax": (1, "0.33", "0.33"),
    "Refund": (2, "-1.50", "-0.50"),
    "Credit": (1, "-3.00", "-3.00"),
}

# team tag of each RAW_LINES row (None: untagged)
TEAM_TAGS = ["web", "web", "data", None, None, None, None, None, None, None, None, None]

MONEY_COLUMNS = [
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "pricing_public_on_demand_cost",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
]


def raw_table(source_format: str = "legacy", drop: tuple[str, ...] = ()) -> pa.Table:
    """The RAW_LINES as a legacy (product_region, '' for none) or CUR 2.0 (product_region_code, nulls) table."""
    blank = "" if source_format == "legacy" else None
    region_column = "product_region" if source_format == "legacy" else "product_region_code"
    columns: dict[str, list] = {
        name: []
        for name in [
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
            region_column,
            "savings_plan_savings_plan_a_r_n",
            "reservation_reservation_a_r_n",
            *MONEY_COLUMNS,
        ]
    }
    for number, (line_type, account, day, hour, product, unblended, extra) in enumerate(RAW_LINES, start=1):
        start = datetime(2026, 9, day, hour)
        row = {
            "identity_line_item_id": f"li-{number:02d}",
            "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
            "bill_payer_account_id": PAYER,
            "bill_billing_period_start_date": datetime(2026, 9, 1),
            "bill_bill_type": "Refund" if line_type == "Refund" else "Anniversary",
            "bill_invoice_id": blank,
            "line_item_usage_account_id": account,
            "line_item_line_item_type": line_type,
            "line_item_usage_start_date": start,
            "line_item_product_code": product,
            "line_item_usage_type": "BoxUsage:m5.large" if "Usage" in line_type else blank,
            "line_item_operation": "RunInstances" if "Usage" in line_type else blank,
            "line_item_currency_code": "USD",
            region_column: "us-east-1",
            "savings_plan_savings_plan_a_r_n": blank,
            "reservation_reservation_a_r_n": blank,
            "line_item_usage_amount": 1.0,
            "line_item_unblended_cost": unblended,
        }
        row.update(extra)
        for name, values in columns.items():
            values.append(row.get(name, 0.0 if name in MONEY_COLUMNS else blank))
    if source_format == "legacy":
        columns["resource_tags_user_team"] = [team or "" for team in TEAM_TAGS]
    else:
        columns["resource_tags"] = pa.array(
            [{"user:team": team} if team else {} for team in TEAM_TAGS], pa.map_(pa.string(), pa.string())
        )
    table = pa.table(columns)
    return table.drop_columns([c for c in drop if c in table.column_names])


def write_raw(path, table: pa.Table) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)
