"""Column names and Arrow types of the two CUR layouts billflow reads (and the sample generator writes).

* ``legacy``: the legacy Cost & Usage Report delivered for Athena (Parquet, snake_case columns,
  one ``resource_tags_user_<key>`` column per activated tag key). Costs, rates and amounts are
  ``double``; dates are ``timestamp[ms]`` (UTC, no time zone attached); ids are strings.
* ``cur2``: CUR 2.0 (AWS Data Exports). Same scalar names for most columns, plus account names and
  ``*_net_*`` columns; the region is ``product_region_code``; product attributes, resource tags,
  cost categories and tags are ``map<string,string>`` columns, ``discount`` is ``map<string,double>``.

Each column also carries the entry AWS writes for it in the delivery manifest:
legacy manifests list ``{"category", "name", "type"}`` (camelCase, CSV-era types such as
``String``/``BigDecimal``/``DateTime``), CUR 2.0 manifests list ``{"name", "type"}`` (SQL types).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

LEGACY = "legacy"
CUR2 = "cur2"
FORMATS = (LEGACY, CUR2)

STRING = pa.string()
DOUBLE = pa.float64()
TIMESTAMP = pa.timestamp("ms")
STRING_MAP = pa.map_(pa.string(), pa.string())
DOUBLE_MAP = pa.map_(pa.string(), pa.float64())

# Resource tag keys the sample data uses (legacy: one column per key; CUR 2.0: keys of `resource_tags`).
TAG_KEYS = ("user:team", "user:project")


@dataclass(frozen=True)
class Column:
    name: str  # column name in the Parquet file (Athena / CUR 2.0 spelling)
    type: pa.DataType
    category: str  # legacy manifest category (identity, bill, lineItem, ...)
    manifest_name: str  # legacy manifest name (camelCase as in the CSV header)
    manifest_type: str  # legacy manifest type (String, BigDecimal, OptionalBigDecimal, DateTime, Interval)

    def legacy_manifest_entry(self) -> dict[str, str]:
        return {"category": self.category, "name": self.manifest_name, "type": self.manifest_type}

    def cur2_manifest_entry(self) -> dict[str, str]:
        return {"name": self.name, "type": sql_type(self.type)}


def _c(name: str, type_: pa.DataType, category: str, manifest_name: str, manifest_type: str) -> Column:
    return Column(name, type_, category, manifest_name, manifest_type)


# Columns present in both layouts, in AWS order; `None` marks where a layout-specific block goes.
_IDENTITY_BILL = [
    _c("identity_line_item_id", STRING, "identity", "LineItemId", "String"),
    _c("identity_time_interval", STRING, "identity", "TimeInterval", "Interval"),
    _c("bill_invoice_id", STRING, "bill", "InvoiceId", "String"),
    _c("bill_invoicing_entity", STRING, "bill", "InvoicingEntity", "String"),
    _c("bill_billing_entity", STRING, "bill", "BillingEntity", "String"),
    _c("bill_bill_type", STRING, "bill", "BillType", "String"),
    _c("bill_payer_account_id", STRING, "bill", "PayerAccountId", "String"),
]
_CUR2_PAYER_NAME = [_c("bill_payer_account_name", STRING, "bill", "PayerAccountName", "String")]
_BILL_PERIOD = [
    _c("bill_billing_period_start_date", TIMESTAMP, "bill", "BillingPeriodStartDate", "DateTime"),
    _c("bill_billing_period_end_date", TIMESTAMP, "bill", "BillingPeriodEndDate", "DateTime"),
]
_USAGE_ACCOUNT = [_c("line_item_usage_account_id", STRING, "lineItem", "UsageAccountId", "String")]
_CUR2_ACCOUNT_NAME = [_c("line_item_usage_account_name", STRING, "lineItem", "UsageAccountName", "String")]
_LINE_ITEM_A = [
    _c("line_item_line_item_type", STRING, "lineItem", "LineItemType", "String"),
    _c("line_item_usage_start_date", TIMESTAMP, "lineItem", "UsageStartDate", "DateTime"),
    _c("line_item_usage_end_date", TIMESTAMP, "lineItem", "UsageEndDate", "DateTime"),
    _c("line_item_product_code", STRING, "lineItem", "ProductCode", "String"),
    _c("line_item_usage_type", STRING, "lineItem", "UsageType", "String"),
    _c("line_item_operation", STRING, "lineItem", "Operation", "String"),
    _c("line_item_resource_id", STRING, "lineItem", "ResourceId", "String"),
    _c("line_item_usage_amount", DOUBLE, "lineItem", "UsageAmount", "BigDecimal"),
    _c("line_item_currency_code", STRING, "lineItem", "CurrencyCode", "String"),
    _c("line_item_unblended_rate", DOUBLE, "lineItem", "UnblendedRate", "BigDecimal"),
    _c("line_item_unblended_cost", DOUBLE, "lineItem", "UnblendedCost", "BigDecimal"),
]
_CUR2_NET_UNBLENDED = [_c("line_item_net_unblended_cost", DOUBLE, "lineItem", "NetUnblendedCost", "BigDecimal")]
_LINE_ITEM_B = [
    _c("line_item_blended_rate", DOUBLE, "lineItem", "BlendedRate", "BigDecimal"),
    _c("line_item_blended_cost", DOUBLE, "lineItem", "BlendedCost", "BigDecimal"),
    _c("line_item_line_item_description", STRING, "lineItem", "LineItemDescription", "String"),
    _c("line_item_legal_entity", STRING, "lineItem", "LegalEntity", "String"),
]
_LEGACY_PRODUCT = [
    _c("product_product_name", STRING, "product", "ProductName", "String"),
    _c("product_servicecode", STRING, "product", "servicecode", "String"),
    _c("product_product_family", STRING, "product", "productFamily", "String"),
    _c("product_instance_type", STRING, "product", "instanceType", "String"),
    _c("product_location", STRING, "product", "location", "String"),
    _c("product_region", STRING, "product", "region", "String"),
]
_CUR2_PRODUCT = [
    _c("product_servicecode", STRING, "product", "servicecode", "String"),
    _c("product_product_family", STRING, "product", "productFamily", "String"),
    _c("product_instance_type", STRING, "product", "instanceType", "String"),
    _c("product_region_code", STRING, "product", "regionCode", "String"),
    _c("product", STRING_MAP, "product", "product", "Map"),
]
_PRICING = [
    _c("pricing_term", STRING, "pricing", "term", "String"),
    _c("pricing_unit", STRING, "pricing", "unit", "String"),
    _c("pricing_public_on_demand_rate", DOUBLE, "pricing", "publicOnDemandRate", "BigDecimal"),
    _c("pricing_public_on_demand_cost", DOUBLE, "pricing", "publicOnDemandCost", "BigDecimal"),
]
_RESERVATION_A = [
    _c("reservation_reservation_a_r_n", STRING, "reservation", "ReservationARN", "OptionalString"),
    _c("reservation_effective_cost", DOUBLE, "reservation", "EffectiveCost", "OptionalBigDecimal"),
]
_CUR2_RI_NET = [_c("reservation_net_effective_cost", DOUBLE, "reservation", "NetEffectiveCost", "OptionalBigDecimal")]
_RESERVATION_B = [
    _c(
        "reservation_amortized_upfront_cost_for_usage",
        DOUBLE,
        "reservation",
        "AmortizedUpfrontCostForUsage",
        "OptionalBigDecimal",
    ),
    _c("reservation_recurring_fee_for_usage", DOUBLE, "reservation", "RecurringFeeForUsage", "OptionalBigDecimal"),
    _c(
        "reservation_amortized_upfront_fee_for_billing_period",
        DOUBLE,
        "reservation",
        "AmortizedUpfrontFeeForBillingPeriod",
        "OptionalBigDecimal",
    ),
    _c(
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        DOUBLE,
        "reservation",
        "UnusedAmortizedUpfrontFeeForBillingPeriod",
        "OptionalBigDecimal",
    ),
    _c("reservation_unused_recurring_fee", DOUBLE, "reservation", "UnusedRecurringFee", "OptionalBigDecimal"),
    _c("reservation_unused_quantity", DOUBLE, "reservation", "UnusedQuantity", "OptionalBigDecimal"),
]
_SAVINGS_PLAN_A = [
    _c("savings_plan_savings_plan_a_r_n", STRING, "savingsPlan", "SavingsPlanARN", "OptionalString"),
    _c("savings_plan_savings_plan_rate", DOUBLE, "savingsPlan", "SavingsPlanRate", "OptionalBigDecimal"),
    _c(
        "savings_plan_savings_plan_effective_cost",
        DOUBLE,
        "savingsPlan",
        "SavingsPlanEffectiveCost",
        "OptionalBigDecimal",
    ),
]
_CUR2_SP_NET = [
    _c(
        "savings_plan_net_savings_plan_effective_cost",
        DOUBLE,
        "savingsPlan",
        "NetSavingsPlanEffectiveCost",
        "OptionalBigDecimal",
    )
]
_SAVINGS_PLAN_B = [
    _c(
        "savings_plan_total_commitment_to_date",
        DOUBLE,
        "savingsPlan",
        "TotalCommitmentToDate",
        "OptionalBigDecimal",
    ),
    _c("savings_plan_used_commitment", DOUBLE, "savingsPlan", "UsedCommitment", "OptionalBigDecimal"),
    _c(
        "savings_plan_amortized_upfront_commitment_for_billing_period",
        DOUBLE,
        "savingsPlan",
        "AmortizedUpfrontCommitmentForBillingPeriod",
        "OptionalBigDecimal",
    ),
    _c(
        "savings_plan_recurring_commitment_for_billing_period",
        DOUBLE,
        "savingsPlan",
        "RecurringCommitmentForBillingPeriod",
        "OptionalBigDecimal",
    ),
]
_LEGACY_TAGS = [
    _c("resource_tags_user_team", STRING, "resourceTags", "user:team", "OptionalString"),
    _c("resource_tags_user_project", STRING, "resourceTags", "user:project", "OptionalString"),
]
_CUR2_MAPS = [
    _c("resource_tags", STRING_MAP, "resourceTags", "resourceTags", "Map"),
    _c("cost_category", STRING_MAP, "costCategory", "costCategory", "Map"),
    _c("tags", STRING_MAP, "tags", "tags", "Map"),
    _c("discount", DOUBLE_MAP, "discount", "discount", "Map"),
]

LEGACY_COLUMNS: tuple[Column, ...] = tuple(
    _IDENTITY_BILL
    + _BILL_PERIOD
    + _USAGE_ACCOUNT
    + _LINE_ITEM_A
    + _LINE_ITEM_B
    + _LEGACY_PRODUCT
    + _PRICING
    + _RESERVATION_A
    + _RESERVATION_B
    + _SAVINGS_PLAN_A
    + _SAVINGS_PLAN_B
    + _LEGACY_TAGS
)

CUR2_COLUMNS: tuple[Column, ...] = tuple(
    _IDENTITY_BILL
    + _CUR2_PAYER_NAME
    + _BILL_PERIOD
    + _USAGE_ACCOUNT
    + _CUR2_ACCOUNT_NAME
    + _LINE_ITEM_A
    + _CUR2_NET_UNBLENDED
    + _LINE_ITEM_B
    + _CUR2_PRODUCT
    + _PRICING
    + _RESERVATION_A
    + _CUR2_RI_NET
    + _RESERVATION_B
    + _SAVINGS_PLAN_A
    + _CUR2_SP_NET
    + _SAVINGS_PLAN_B
    + _CUR2_MAPS
)

# Region column per layout.
REGION_COLUMN = {LEGACY: "product_region", CUR2: "product_region_code"}


def columns(fmt: str) -> tuple[Column, ...]:
    """The columns of a layout (`legacy` or `cur2`), in file order."""
    if fmt == LEGACY:
        return LEGACY_COLUMNS
    if fmt == CUR2:
        return CUR2_COLUMNS
    raise ValueError(f"unknown CUR format {fmt!r}: expected one of {', '.join(FORMATS)}")


def schema(fmt: str) -> pa.Schema:
    """Arrow schema of the Parquet files of a layout."""
    return pa.schema([pa.field(c.name, c.type) for c in columns(fmt)])


def column_names(fmt: str) -> tuple[str, ...]:
    return tuple(c.name for c in columns(fmt))


def manifest_columns(fmt: str) -> list[dict[str, str]]:
    """The `columns` list of a manifest as AWS writes it for that layout."""
    if fmt == LEGACY:
        return [c.legacy_manifest_entry() for c in LEGACY_COLUMNS]
    return [c.cur2_manifest_entry() for c in columns(fmt)]


def legacy_tag_column(tag_key: str) -> str:
    """Athena column name of a resource tag key in a legacy CUR: `user:team` -> `resource_tags_user_team`."""
    return "resource_tags_" + "".join(ch if ch.isalnum() else "_" for ch in tag_key).lower()


def sql_type(type_: pa.DataType) -> str:
    """SQL spelling of an Arrow type as used in CUR 2.0 manifests."""
    if pa.types.is_string(type_):
        return "string"
    if pa.types.is_floating(type_):
        return "double"
    if pa.types.is_timestamp(type_):
        return "timestamp"
    if pa.types.is_map(type_):
        return f"map<{sql_type(type_.key_type)},{sql_type(type_.item_type)}>"
    raise ValueError(f"no SQL spelling for {type_}")


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")


def athena_column_name(header: str) -> str:
    """'lineItem/UsageAccountId' -> 'line_item_usage_account_id'; 'savingsPlan/SavingsPlanARN' ->
    'savings_plan_savings_plan_a_r_n' (Athena splits every capital), 'resourceTags/user:Team' ->
    'resource_tags_user_team'."""
    parts = [_CAMEL_BOUNDARY.sub("_", part) for part in _NOT_WORD.split(header) if part]
    return "_".join(parts).lower()
