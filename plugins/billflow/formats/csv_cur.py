"""Legacy CUR delivered as CSV (`lineItem/UsageAccountId` headers) -> the Athena Parquet layout."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from billflow.staging.columns import MONEY, RAW_COLUMNS

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")


def athena_column_name(header: str) -> str:
    """'lineItem/UsageAccountId' -> 'line_item_usage_account_id'; 'savingsPlan/SavingsPlanARN' ->
    'savings_plan_savings_plan_a_r_n' (Athena splits every capital), 'resourceTags/user:Team' ->
    'resource_tags_user_team'."""
    parts = [_CAMEL_BOUNDARY.sub("_", part) for part in _NOT_WORD.split(header) if part]
    return "_".join(parts).lower()


def _timestamp_columns() -> set[str]:
    return {name for name, sql_type in RAW_COLUMNS.items() if sql_type == "timestamp"}


def csv_to_parquet(csv_path: str | Path, parquet_path: str | Path) -> int:
    """Convert a CUR CSV to Parquet with Athena column names: money as double, dates as timestamps,
    everything else as strings (ids keep their leading zeros). Returns the number of rows."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        headers = next(csv.reader(handle))
    as_text = pacsv.ConvertOptions(column_types=dict.fromkeys(headers, pa.string()), strings_can_be_null=False)
    table = pacsv.read_csv(csv_path, convert_options=as_text)
    names = [athena_column_name(name) for name in table.column_names]
    money = {name for name, sql_type in RAW_COLUMNS.items() if sql_type == MONEY}
    columns = []
    for name, column in zip(names, table.columns, strict=True):
        text = pc.cast(column, pa.string())
        if name in money:
            columns.append(pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.float64()))
        elif name in _timestamp_columns():
            columns.append(pc.strptime(text, format="%Y-%m-%dT%H:%M:%S.000Z", unit="ms", error_is_null=True))
        else:
            columns.append(text)
    converted = pa.table(dict(zip(names, columns, strict=True)))
    Path(parquet_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(converted, parquet_path)
    return converted.num_rows
