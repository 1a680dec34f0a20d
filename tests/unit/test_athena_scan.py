"""The Athena scan estimate of `python -m billflow_dev athena-scan` (tools/billflow_dev/athena_scan.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from billflow_dev.athena_scan import MB, billed_bytes, named_columns, scanned_bytes


def test_athena_bills_whole_megabytes_and_at_least_ten():
    assert billed_bytes(0) == 10 * MB
    assert billed_bytes(10 * MB) == 10 * MB
    assert billed_bytes(10 * MB + 1) == 11 * MB
    assert billed_bytes(int(2.5 * 1024 * MB)) == 2560 * MB


def test_the_columns_a_statement_names_are_those_it_reads():
    sql = (
        "select line_item_usage_account_id, sum(line_item_unblended_cost) as cost from raw_delivery "
        "where line_item_line_item_type <> 'Tax' group by line_item_usage_account_id"
    )

    assert named_columns(sql) == {"line_item_usage_account_id", "line_item_unblended_cost", "line_item_line_item_type"}


def test_a_scan_is_the_compressed_size_of_the_named_columns_chunks(tmp_path):
    path = tmp_path / "cur.parquet"
    table = pa.table({"small": [1] * 50_000, "large": [f"resource-{i}" for i in range(50_000)]})
    pq.write_table(table, path, row_group_size=20_000)  # three row groups
    metadata = pq.ParquetFile(path).metadata
    large = sum(metadata.row_group(g).column(1).total_compressed_size for g in range(3))

    assert scanned_bytes(str(path), set()) == 0
    assert scanned_bytes(str(path), {"large", "not_in_the_file"}) == large
    assert scanned_bytes(str(path), {"small", "large"}) == scanned_bytes(str(path), {"small"}) + large
    assert scanned_bytes(str(path), {"small"}) < large / 10  # a constant column compresses to almost nothing
