"""CUR deliveries written into a landing zone the way AWS writes them, from hand-written raw lines.

Payer 1 delivers a legacy Athena-Parquet report, payer 2 a CUR 2.0 export; both use the raw lines of
tests/rawcur.py (payer 2 with its own accounts), so their staged figures are known by hand.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tests.rawcur import ACCOUNT_A, ACCOUNT_B, raw_table

PAYER_1, PAYER_2 = "111111111111", "222222222222"
# payer 2's accounts: 200000000001 is initech's, 200000000002 umbrella's (tests/integration/rules)
PAYER_2_ACCOUNTS = {ACCOUNT_A: "200000000001", ACCOUNT_B: "200000000002"}
BUCKET = "billflow-landing"
REPORT, EXPORT = "cur", "export"
SEPT = date(2026, 9, 1)


def raw_lines(payer: str = PAYER_1, source_format: str = "legacy") -> pa.Table:
    """The raw lines of tests/rawcur.py for `payer`, each with its own identity_line_item_id."""
    table = raw_table(source_format)
    if payer != PAYER_1:
        table = table.set_column(
            table.schema.get_field_index("bill_payer_account_id"),
            "bill_payer_account_id",
            pa.array([payer] * table.num_rows),
        )
        accounts = [PAYER_2_ACCOUNTS[a] for a in table.column("line_item_usage_account_id").to_pylist()]
        index = table.schema.get_field_index("line_item_usage_account_id")
        table = table.set_column(index, "line_item_usage_account_id", pa.array(accounts))
    if "identity_line_item_id" not in table.column_names:
        table = table.append_column(
            "identity_line_item_id", pa.array([f"{payer}-{i:04d}" for i in range(table.num_rows)])
        )
    if "identity_time_interval" not in table.column_names:
        starts = table.column("line_item_usage_start_date").to_pylist()
        intervals = [f"{s:%Y-%m-%dT%H}:00:00Z/{s:%Y-%m-%dT%H}:59:59Z" for s in starts]
        table = table.append_column("identity_time_interval", pa.array(intervals))
    return table


def with_values(table: pa.Table, column: str, values: list) -> pa.Table:
    field = table.schema.field(column)
    if pa.types.is_null(field.type):  # a column the sample leaves empty everywhere: give it the values' type
        field = field.with_type(pa.array(values).type)
    return table.set_column(table.schema.get_field_index(column), field, pa.array(values, field.type))


def where(table: pa.Table, line_item_type: str) -> list[int]:
    return [i for i, t in enumerate(table.column("line_item_line_item_type").to_pylist()) if t == line_item_type]


def legacy_keys(payer: str, report: str = REPORT, period: date = SEPT) -> tuple[str, str]:
    end = date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    data = f"{payer}/{report}/{report}/year={period.year}/month={period.month}/{report}-00001.snappy.parquet"
    manifest = f"{payer}/{report}/{period:%Y%m%d}-{end:%Y%m%d}/{report}-Manifest.json"
    return data, manifest


def cur2_keys(payer: str, export: str = EXPORT, period: date = SEPT) -> tuple[str, str]:
    data = f"{payer}/{export}/data/BILLING_PERIOD={period:%Y-%m}/{export}-00001.snappy.parquet"
    manifest = f"{payer}/{export}/metadata/BILLING_PERIOD={period:%Y-%m}/{export}-Manifest.json"
    return data, manifest


def write_file(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def legacy_manifest(payer: str, assembly_id: str, data_key: str, report: str = REPORT, **overrides) -> dict:
    body = {
        "assemblyId": assembly_id,
        "account": payer,
        "columns": [{"category": "lineItem", "name": "line_item_unblended_cost", "type": "OptionalBigDecimal"}],
        "compression": "Parquet",
        "contentType": "Parquet",
        "reportId": f"{report}-{payer}",
        "reportName": report,
        "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
        "bucket": BUCKET,
        "reportKeys": [data_key],
    }
    body.update(overrides)
    return body


def land_legacy(root: Path, table: pa.Table | None, assembly_id: str, payer: str = PAYER_1, **overrides) -> str:
    """A legacy delivery (AWS overwrites the data file and the manifest of the period); returns the manifest key."""
    data_key, manifest_key = legacy_keys(payer)
    if table is not None:
        write_file(root, data_key, parquet_bytes(table))
    body = legacy_manifest(payer, assembly_id, data_key, **overrides)
    write_file(root, manifest_key, json.dumps(body).encode())
    return manifest_key


def land_cur2(root: Path, table: pa.Table | None, execution_id: str, payer: str = PAYER_2, **overrides) -> str:
    data_key, manifest_key = cur2_keys(payer)
    if table is not None:
        write_file(root, data_key, parquet_bytes(table))
    body = {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{payer}:export/{EXPORT}-1234",
        "columns": [{"name": "line_item_unblended_cost", "type": "double"}],
        "dataFiles": [f"s3://{BUCKET}/{data_key}"],
        "additionalOutputFiles": [],
    }
    body.update(overrides)
    write_file(root, manifest_key, json.dumps(body).encode())
    return manifest_key


def final(table: pa.Table, invoice_id: str = "EUINGB26-0001") -> pa.Table:
    """The lines of a month AWS has finalised: every line carries the AWS invoice id."""
    return with_values(table, "bill_invoice_id", [invoice_id] * table.num_rows)


def land_both(root: Path, suffix: str = "1") -> None:
    """Both payers' final September."""
    land_legacy(root, final(raw_lines(PAYER_1, "legacy")), f"assembly-{suffix}")
    land_cur2(root, final(raw_lines(PAYER_2, "cur2")), f"execution-{suffix}")


def scaled(table: pa.Table, factor: str) -> pa.Table:
    """The same lines with every unblended cost multiplied (a restated delivery)."""
    column = table.column("line_item_unblended_cost")
    return with_values(table, "line_item_unblended_cost", pc.multiply(column, float(factor)).to_pylist())
