"""The raw CUR columns staging reads (types, where each format keeps them) and the staged schema."""

from __future__ import annotations

import pyarrow as pa

MONEY = "decimal(38, 10)"

# Raw columns every file of a delivery must have (or, for a format, a source of: FORMAT_SOURCES).
REQUIRED_RAW = frozenset(
    {
        "bill_payer_account_id",
        "bill_billing_period_start_date",
        "line_item_usage_account_id",
        "line_item_line_item_type",
        "line_item_usage_start_date",
        "line_item_product_code",
        "line_item_unblended_cost",
        "line_item_currency_code",
    }
)

# canonical column -> staged type; money and amounts are typed decimal before anything adds them up
RAW_COLUMNS: dict[str, str] = {
    "bill_payer_account_id": "varchar",
    "bill_billing_period_start_date": "timestamp",
    "bill_bill_type": "varchar",
    "bill_invoice_id": "varchar",
    "line_item_usage_account_id": "varchar",
    "line_item_line_item_type": "varchar",
    "line_item_usage_start_date": "timestamp",
    "line_item_product_code": "varchar",
    "line_item_usage_type": "varchar",
    "line_item_operation": "varchar",
    "line_item_currency_code": "varchar",
    "product_region": "varchar",
    "product_product_name": "varchar",
    "pricing_unit": "varchar",
    "line_item_usage_amount": MONEY,
    "line_item_unblended_cost": MONEY,
    "pricing_public_on_demand_cost": MONEY,
    "savings_plan_savings_plan_a_r_n": "varchar",
    "savings_plan_savings_plan_effective_cost": MONEY,
    "savings_plan_total_commitment_to_date": MONEY,
    "savings_plan_used_commitment": MONEY,
    "reservation_reservation_a_r_n": "varchar",
    "reservation_effective_cost": MONEY,
    "reservation_unused_amortized_upfront_fee_for_billing_period": MONEY,
    "reservation_unused_recurring_fee": MONEY,
}

# Where a format keeps a canonical column when the name differs; the first source present wins.
FORMAT_SOURCES: dict[str, dict[str, list[str]]] = {
    "legacy": {},
    "cur2": {
        "product_region": ["product_region_code", "product['region']"],
        "product_product_name": ["product['product_name']"],
    },
}

# Columns whose empty string means "none" (AWS writes '' in legacy CUR, null in CUR 2.0).
BLANK_IS_NULL = {"bill_invoice_id", "savings_plan_savings_plan_a_r_n", "reservation_reservation_a_r_n"}

# What identifies a raw line: AWS writes one line per line item and time interval, so a pair seen twice
# is a line delivered twice (its cost would be billed twice).
IDENTITY_COLUMNS = ("identity_line_item_id", "identity_time_interval")

EVERY_LINE = "*"

# Money a raw line must carry, by line item type (EVERY_LINE: every line). Staging reads a missing or
# null money column as 0, so without these the cost, the amortized cost (docs/ARCHITECTURE.md) or the re-rating of
# covered usage at public on-demand prices (rule 5) would silently be 0. Public on-demand cost is
# required only where re-rating reads it (usage covered by a Savings Plan or a reservation): on-demand
# Usage is billed at its unblended cost, and AWS leaves the column empty on lines without a public
# price (tax, fees, credits). Every line of the real CURs in tests/fixtures/external passes this table.
REQUIRED_MONEY: dict[str, tuple[str, ...]] = {
    EVERY_LINE: ("line_item_unblended_cost",),
    "SavingsPlanCoveredUsage": ("savings_plan_savings_plan_effective_cost", "pricing_public_on_demand_cost"),
    "SavingsPlanRecurringFee": ("savings_plan_total_commitment_to_date", "savings_plan_used_commitment"),
    "DiscountedUsage": ("reservation_effective_cost", "pricing_public_on_demand_cost"),
    "RIFee": ("reservation_unused_amortized_upfront_fee_for_billing_period", "reservation_unused_recurring_fee"),
}


def required_money(line_item_type: str | None) -> tuple[str, ...]:
    """The money columns a line of this type must carry (line_item_unblended_cost first)."""
    return REQUIRED_MONEY[EVERY_LINE] + REQUIRED_MONEY.get(line_item_type or "", ())


STAGED_MONEY = pa.decimal128(38, 10)

# The staged partition's columns (docs/ARCHITECTURE.md); stage_cur_daily.sql produces exactly these.
STAGED_SCHEMA = pa.schema(
    [
        ("billing_period", pa.date32()),
        ("payer_account_id", pa.string()),
        ("usage_account_id", pa.string()),
        ("usage_date", pa.date32()),
        ("line_item_type", pa.string()),
        ("product_code", pa.string()),
        ("usage_type", pa.string()),
        ("operation", pa.string()),
        ("region", pa.string()),
        ("product_name", pa.string()),
        ("pricing_unit", pa.string()),
        ("currency_code", pa.string()),
        ("bill_type", pa.string()),
        ("invoice_id", pa.string()),
        ("commitment_arn", pa.string()),
        ("usage_amount", STAGED_MONEY),
        ("unblended_cost", STAGED_MONEY),
        ("amortized_cost", STAGED_MONEY),
        ("public_on_demand_cost", STAGED_MONEY),
        ("line_item_count", pa.int64()),
        ("manifest_id", pa.string()),
        ("source_format", pa.string()),
    ]
)


# Cost by allocation tag value (stage_cur_daily_tags.sql): one row set per configured tag key; its columns
# are the staged partition's key, money and delivery columns around the tag's key and value.
_TAG_KEYS = (
    "billing_period",
    "payer_account_id",
    "usage_account_id",
    "usage_date",
    "line_item_type",
    "product_code",
    "usage_type",
)
STAGED_TAG_SCHEMA = pa.schema(
    [STAGED_SCHEMA.field(name) for name in _TAG_KEYS]
    + [pa.field("tag_key", pa.string()), pa.field("tag_value", pa.string())]
    + [STAGED_SCHEMA.field(name) for name in ("unblended_cost", "amortized_cost", "line_item_count", "manifest_id")]
)
