"""Export the FOCUS 1.2 mart (marts.focus_charges) as one Parquet file per billing period.

Files go through the object-store port to BILLFLOW_EXPORT_URI (default $BILLFLOW_HOME/exports):
`focus/billing_period=YYYY-MM/focus-YYYY-MM.parquet`. Each run replaces the file of every billing period
in the mart (a local write is an atomic rename, an S3 put replaces the object). Columns get their FOCUS
names (the mart keeps portable snake_case names); money stays decimal128(38, 10), timestamps are UTC.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from billflow.engines.database import Database
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)

MART = "marts.focus_charges"
PREFIX = "focus"
MONEY = pa.decimal128(38, 10)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

# mart column -> (FOCUS column, Arrow type of the export); the order is the file's column order
FOCUS_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "billing_account_id": ("BillingAccountId", pa.string()),
    "billing_account_name": ("BillingAccountName", pa.string()),
    "sub_account_id": ("SubAccountId", pa.string()),
    "sub_account_name": ("SubAccountName", pa.string()),
    "billing_period_start": ("BillingPeriodStart", UTC_TIMESTAMP),
    "billing_period_end": ("BillingPeriodEnd", UTC_TIMESTAMP),
    "charge_period_start": ("ChargePeriodStart", UTC_TIMESTAMP),
    "charge_period_end": ("ChargePeriodEnd", UTC_TIMESTAMP),
    "charge_category": ("ChargeCategory", pa.string()),
    "charge_class": ("ChargeClass", pa.string()),
    "charge_frequency": ("ChargeFrequency", pa.string()),
    "charge_description": ("ChargeDescription", pa.string()),
    "billing_currency": ("BillingCurrency", pa.string()),
    "billed_cost": ("BilledCost", MONEY),
    "effective_cost": ("EffectiveCost", MONEY),
    "contracted_cost": ("ContractedCost", MONEY),
    "list_cost": ("ListCost", MONEY),
    "pricing_quantity": ("PricingQuantity", MONEY),
    "pricing_unit": ("PricingUnit", pa.string()),
    "provider_name": ("ProviderName", pa.string()),
    "publisher_name": ("PublisherName", pa.string()),
    "invoice_issuer_name": ("InvoiceIssuerName", pa.string()),
    "service_name": ("ServiceName", pa.string()),
    "service_category": ("ServiceCategory", pa.string()),
    "service_subcategory": ("ServiceSubcategory", pa.string()),
    "invoice_id": ("InvoiceId", pa.string()),
    "x_line_item_type": ("x_LineItemType", pa.string()),
    "x_product_code": ("x_ProductCode", pa.string()),
    "x_usage_type": ("x_UsageType", pa.string()),
    "x_operation": ("x_Operation", pa.string()),
    "x_region": ("x_Region", pa.string()),
    "x_bill_type": ("x_BillType", pa.string()),
    "x_line_item_count": ("x_LineItemCount", pa.int64()),
}


class FocusExportError(RuntimeError):
    """The exported file does not carry the mart's cost."""


@dataclass(frozen=True)
class FocusExport:
    billing_period: str  # YYYY-MM
    key: str
    uri: str
    rows: int
    billed_cost: Decimal


def focus_key(period: str) -> str:
    return f"{PREFIX}/billing_period={period}/focus-{period}.parquet"


def export_focus(warehouse: Database, store: ObjectStore) -> list[FocusExport]:
    """Write the FOCUS file of every billing period in the mart; return what was written."""
    periods = [row[0] for row in warehouse.fetch_all(f"select distinct billing_period from {MART} order by 1")]
    return [_export_period(warehouse, store, _as_date(period)) for period in periods]


def _export_period(warehouse: Database, store: ObjectStore, period: date) -> FocusExport:
    """Stream the period's mart rows into a local Parquet file a batch at a time (the mart never sits whole
    in this process), check the file's rows and BilledCost against the mart's own totals, then store it."""
    label = f"{period:%Y-%m}"
    where = f"where billing_period = date '{period.isoformat()}'"
    columns = ", ".join(FOCUS_COLUMNS)
    with tempfile.TemporaryDirectory(prefix="billflow-focus-") as scratch:
        path = Path(scratch) / f"focus-{label}.parquet"
        rows, billed = _write_focus_file(
            # in the mart's own order: sorting a period of millions of rows cost more than writing it (and GiBs)
            warehouse.stream_arrow(f"select {columns} from {MART} {where}"),
            path,
        )
        expected = warehouse.fetch_all(f"select count(*), coalesce(sum(billed_cost), 0) from {MART} {where}")[0]
        if (rows, billed) != (int(expected[0]), Decimal(expected[1])):
            raise FocusExportError(
                f"FOCUS {label}: {rows} rows / BilledCost {billed}, the mart {expected[0]} / {expected[1]}"
            )
        key = focus_key(label)
        store.write_file(key, path)
    log.info("FOCUS %s: %d rows, BilledCost %s -> %s", label, rows, billed, store.uri(key))
    return FocusExport(label, key, store.uri(key), rows, billed)


def _write_focus_file(mart: pa.RecordBatchReader, path: Path) -> tuple[int, Decimal]:
    """Write the mart's batches as FOCUS rows; the rows and BilledCost total read back from the written file."""
    schema = pa.schema(pa.field(name, data_type) for name, data_type in FOCUS_COLUMNS.values())
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for batch in mart:
            writer.write_table(to_focus_table(pa.Table.from_batches([batch], schema=mart.schema)))
    billed = Decimal(0)
    written = pq.ParquetFile(path)
    for batch in written.iter_batches(columns=["BilledCost"]):
        total = pc.sum(batch.column(0)).as_py()
        billed += total if total is not None else Decimal(0)
    return written.metadata.num_rows, billed


def to_focus_table(mart: pa.Table) -> pa.Table:
    """Rename the mart's columns to FOCUS names with the export's types (naive timestamps are UTC)."""
    arrays, fields = [], []
    for column, (name, data_type) in FOCUS_COLUMNS.items():
        values = mart.column(column)
        if pa.types.is_timestamp(data_type) and pa.types.is_timestamp(values.type) and values.type.tz is None:
            values = values.cast(pa.timestamp("us")).cast(data_type)  # naive warehouse timestamps hold UTC
        arrays.append(values.cast(data_type))
        fields.append(pa.field(name, data_type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # datetime -> its date
    return date.fromisoformat(str(value)[:10])


def export_store(settings) -> ObjectStore:
    """The store of BILLFLOW_EXPORT_URI (a folder or s3://bucket[/prefix])."""
    from billflow.storage.base import open_store

    return open_store(settings.export_uri, settings.aws_conn_id)
