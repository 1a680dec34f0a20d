"""Legacy CUR delivered as CSV (`lineItem/UsageAccountId` headers) -> the Athena Parquet layout."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal, localcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from billflow.formats.columns import athena_column_name
from billflow.staging.columns import MONEY, RAW_COLUMNS

# CUR CSVs seen in the wild write timestamps several ways
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.000Z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def parse_timestamps(name: str, text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Parse a CUR timestamp column written in any of TIMESTAMP_FORMATS; refuse values none of them reads."""
    parsed = [pc.strptime(text, format=f, unit="ms", error_is_null=True) for f in TIMESTAMP_FORMATS]
    result = pc.coalesce(*parsed)
    unread = pc.and_(pc.is_null(result), pc.not_equal(text, ""))
    if pc.any(unread).as_py():
        example = pc.filter(text, unread)[0].as_py()
        raise ValueError(f"column {name}: cannot read {example!r} as a timestamp")
    return result


def _timestamp_columns() -> set[str]:
    return {name for name, sql_type in RAW_COLUMNS.items() if sql_type == "timestamp"}


# the staged money type: a value is read into it exactly or refused, never rounded
MONEY_TYPE = pa.decimal128(38, 10)
_MONEY_SCALE = 10
# what Arrow reads as a decimal (Python's Decimal also takes ' 1', '1_000', 'NaN', ...)
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_money(csv_path: str | Path, header: str, text: pa.ChunkedArray) -> pa.ChunkedArray:
    """A CUR money column from its text straight to decimal128(38, 10), never through a float.

    AWS writes plain decimals and exponents (9.984E-7, 7.0E-10); an empty cell is null. A value that is
    not a number, has a digit past the 10th decimal (it would be rounded) or does not fit is refused
    with the file, the column, the data row and the value.
    """
    values = pc.if_else(pc.equal(text, ""), None, text)
    try:
        return pc.cast(values, MONEY_TYPE)
    except pa.ArrowInvalid:
        row = _first_unreadable(values)
        value = values[row].as_py()
        raise ValueError(
            f"{csv_path}: column {header!r}, data row {row + 1}: {value!r} {_why_not_money(value)}"
        ) from None


def _casts(values: pa.ChunkedArray) -> bool:
    try:
        pc.cast(values, MONEY_TYPE)
    except pa.ArrowInvalid:
        return False
    return True


def _first_unreadable(values: pa.ChunkedArray) -> int:
    """Index of the first value that does not cast, by halving: a few casts, not one per row."""
    low, high = 0, len(values)  # the first bad value lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if _casts(values.slice(low, middle - low)):
            low = middle
        else:
            high = middle
    return low


def _why_not_money(value: str) -> str:
    if not _NUMBER.fullmatch(value):
        return "is not a number"
    number = Decimal(value)
    with localcontext() as exact:
        exact.prec = 100  # normalize() must not round a long value
        if number.normalize().as_tuple().exponent < -_MONEY_SCALE:
            return f"has more than {_MONEY_SCALE} decimals: decimal(38, {_MONEY_SCALE}) would round it"
    return f"does not fit decimal(38, {_MONEY_SCALE}) (more than {38 - _MONEY_SCALE} digits before the point)"


def csv_to_parquet(csv_path: str | Path, parquet_path: str | Path) -> int:
    """Convert a CUR CSV to Parquet with Athena column names: money as decimal128(38, 10) read exactly from
    its text (parse_money), dates as timestamps, everything else as strings (ids keep their leading zeros).
    Returns the number of rows."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        headers = next(csv.reader(handle))
    as_text = pacsv.ConvertOptions(column_types=dict.fromkeys(headers, pa.string()), strings_can_be_null=False)
    table = pacsv.read_csv(csv_path, convert_options=as_text)
    names = [athena_column_name(name) for name in table.column_names]
    money = {name for name, sql_type in RAW_COLUMNS.items() if sql_type == MONEY}
    columns = []
    for header, name, column in zip(table.column_names, names, table.columns, strict=True):
        text = pc.cast(column, pa.string())
        if name in money:
            columns.append(parse_money(csv_path, header, text))
        elif name in _timestamp_columns():
            columns.append(parse_timestamps(name, text))
        else:
            columns.append(text)
    converted = pa.table(dict(zip(names, columns, strict=True)))
    Path(parquet_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(converted, parquet_path)
    return converted.num_rows


def land_csv_as_legacy_delivery(
    csv_path: str | Path,
    landing_root: str | Path,
    *,
    report_name: str,
    assembly_id: str,
    bucket: str = "billflow-landing",
) -> Path:
    """Put a CUR CSV into a landing zone as a legacy Athena-Parquet delivery with its manifest.

    The payer and the billing period come from the file itself (it must hold one of each).
    Returns the manifest's path.
    """
    landing = Path(landing_root)
    staging = landing / f".{report_name}-{assembly_id}.parquet"
    csv_to_parquet(csv_path, staging)
    table = pq.read_table(staging, columns=["bill_payer_account_id", "bill_billing_period_start_date"])
    payers = set(table.column(0).to_pylist())
    periods = {value.date().replace(day=1) for value in table.column(1).to_pylist()}
    if len(payers) != 1 or len(periods) != 1:
        staging.unlink()
        raise ValueError(f"{csv_path}: a delivery holds one payer and one period, found {payers} and {periods}")
    payer, start = payers.pop(), periods.pop()
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    key = (
        f"{payer}/{report_name}/{report_name}/year={start.year}/month={start.month}/{report_name}-00001.snappy.parquet"
    )
    (landing / key).parent.mkdir(parents=True, exist_ok=True)
    staging.replace(landing / key)
    manifest = {
        "assemblyId": assembly_id,
        "account": payer,
        "columns": [],
        "compression": "Parquet",
        "contentType": "Parquet",
        "reportId": f"{report_name}-{payer}",
        "reportName": report_name,
        "billingPeriod": {"start": f"{start:%Y%m%d}T000000.000Z", "end": f"{end:%Y%m%d}T000000.000Z"},
        "bucket": bucket,
        "reportKeys": [key],
    }
    manifest_path = landing / f"{payer}/{report_name}/{start:%Y%m%d}-{end:%Y%m%d}/{report_name}-Manifest.json"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest_path
