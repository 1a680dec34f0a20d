"""Every statement of the staging step, rendered for Athena (billflow.engines.athena_sql), is valid Trino and
gives on the same files what the DuckDB adapter gives: staged rows, cost by tag, raw totals and each raw
check, value for value (money to the last of its ten decimals). The Trino runs on DuckDB through
tools/billflow_dev/aws/athena_double.py, a test double that says what it cannot show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot

from billflow.engines.athena_sql import ATHENA_DIALECT, delivery_relation, render_for_athena
from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.formats.manifest import Delivery
from billflow.staging.raw_checks import (
    KEY_HASH,
    render_duplicate_keys_sql,
    render_duplicates_sql,
    render_examples_sql,
    render_inspection_sql,
)
from billflow.staging.stage import (
    fragment,
    inline_fold,
    render_fold_sql,
    render_stage_sql,
    render_tags_sql,
    typed_projection,
)
from billflow_dev.aws.athena_double import TrinoOnDuckDB
from billflow_dev.csv_cur import csv_to_parquet
from tests.fixtures import EXTERNAL
from tests.rawcur import PAYER, raw_table, write_raw

TABLE = '"billflow_raw"."delivery"'
TAG_KEYS = ("team", "project")


def delivery(source_format: str, files: list[str]) -> Delivery:
    return Delivery(PAYER, date(2026, 9, 1), "m-1", source_format, "r", "m.json", tuple(files))


def statements(present: set[str], source_format: str, first_file: str) -> dict[str, str]:
    """The staging step's statements over a delivery whose files have the `present` columns."""
    folded = inline_fold(render_fold_sql(typed_projection(present, source_format, TAG_KEYS), len(TAG_KEYS)))
    inspection, _ = render_inspection_sql(present, fragment("amortized_cost"))
    has_id = "identity_line_item_id" in present
    return {
        "staged rows": render_stage_sql(folded, delivery(source_format, [first_file])),
        "cost by tag": render_tags_sql(folded, delivery(source_format, [first_file]), TAG_KEYS),
        "raw inspection": inspection,
        "repeated identity hashes": render_duplicate_keys_sql(KEY_HASH),
        "duplicated line items": render_duplicates_sql(KEY_HASH),
        "examples": render_examples_sql(first_file, "line_item_usage_amount > 0", "line_item_usage_amount", has_id),
    }


def rows(table: pa.Table) -> list[dict]:
    """The rows in a set order (a grouping gives them in none)."""
    return sorted(table.to_pylist(), key=lambda row: repr(tuple(row.items())))


def both_engines(files: list[str], source_format: str) -> dict[str, tuple[list[dict], list[dict]]]:
    """Statement -> (its rows through the DuckDB adapter, through Athena's rendering on the double)."""
    engine, double = DuckDBEngine(threads=1), TrinoOnDuckDB()
    double.register_table("billflow_raw", "delivery", files)
    present = {name for path in files for name in pa.parquet.read_schema(path).names}
    try:
        return {
            name: (rows(engine.query(sql, files)), rows(double.query(render_for_athena(sql, TABLE, files))))
            for name, sql in statements(present, source_format, files[0]).items()
        }
    finally:
        engine.close()
        double.close()


def sample_delivery(tmp_path: Path, source_format: str) -> list[str]:
    """tests/rawcur's twelve lines in one file and its fifth line again in a second (a duplicate line item)."""
    doubled = raw_table(source_format).slice(4, 1)
    return [write_raw(tmp_path / "a.parquet", raw_table(source_format)), write_raw(tmp_path / "b.parquet", doubled)]


@pytest.mark.parametrize("source_format", ["legacy", "cur2"])
def test_athena_statements_give_the_duckdb_adapters_rows_on_the_sample_deliveries(tmp_path, source_format):
    results = both_engines(sample_delivery(tmp_path, source_format), source_format)

    for name, (duckdb_rows, athena_rows) in results.items():
        assert athena_rows == duckdb_rows, name
    # by hand from tests/rawcur.py: twelve lines costing 119.33 unblended, and the fifth line again
    fifth = raw_table(source_format).slice(4, 1).to_pylist()[0]
    unblended = Decimal("119.33") + Decimal(str(fifth["line_item_unblended_cost"]))
    staged = results["staged rows"][0]
    assert sum(row["line_item_count"] for row in staged) == 13
    assert sum(row["unblended_cost"] for row in staged) == unblended
    inspection = results["raw inspection"][0]
    assert sum(row["line_count"] for row in inspection) == 13
    assert sum(row["unblended_cost"] for row in inspection) == unblended
    for key in TAG_KEYS:  # each tag key carries every raw line once
        assert sum(row["line_item_count"] for row in results["cost by tag"][0] if row["tag_key"] == key) == 13
    assert results["repeated identity hashes"][0] == [{"repeated_lines": 1}]
    (total,) = [row for row in results["duplicated line items"][0] if row["kind"] == "total"]
    assert (total["line_count"], total["pair_count"]) == (2, 1)


@pytest.mark.parametrize(
    "csv_file",
    [
        EXTERNAL / "focus-converters" / "sample-anonymous-aws-export-dataset.csv",
        EXTERNAL / "koku" / "2023-06-01.csv",
    ],
    ids=["focus-converters", "koku"],
)
def test_athena_statements_give_the_duckdb_adapters_rows_on_real_cur_files(tmp_path, csv_file):
    path = tmp_path / "real.parquet"
    csv_to_parquet(csv_file, path)

    results = both_engines([str(path)], "legacy")

    for name, (duckdb_rows, athena_rows) in results.items():
        assert athena_rows == duckdb_rows, name
    assert results["raw inspection"][0], "the inspection read no lines"


def test_raw_delivery_is_bound_to_the_listed_files_of_the_glue_table():
    sql = render_for_athena(
        "select count(*) from raw_delivery as raw_file", TABLE, ["s3://cur/a.parquet", "s3://cur/it's.parquet"]
    )

    assert sql == (
        'SELECT COUNT(*) FROM (SELECT *, "$path" AS billflow_source_file FROM "billflow_raw"."delivery" '
        "WHERE \"$path\" IN ('s3://cur/a.parquet', 's3://cur/it''s.parquet')) AS raw_file"
    )


def test_duckdbs_hash_becomes_a_trino_hash_of_the_values_joined():
    sql = render_for_athena("select hash(a, b) as k from raw_delivery", TABLE, ["s3://cur/a.parquet"])

    assert sql.startswith(
        "SELECT XXHASH64(TO_UTF8(COALESCE(CAST(a AS VARCHAR), '') || CHR(31) || COALESCE(CAST(b AS VARCHAR), ''))) "
        "AS k FROM"
    )


def test_a_statement_that_is_not_sql_is_refused_before_it_reaches_athena():
    with pytest.raises(sqlglot.errors.ParseError):
        render_for_athena("select from where (", TABLE, ["s3://cur/a.parquet"])
    with pytest.raises(ValueError, match="no data files"):
        delivery_relation(TABLE, [])


def test_every_rendered_statement_parses_as_trino(tmp_path):
    files = sample_delivery(tmp_path, "cur2")
    present = set(raw_table("cur2").column_names)

    for name, sql in statements(present, "cur2", files[0]).items():
        athena = render_for_athena(sql, TABLE, files)
        assert sqlglot.parse_one(athena, read=ATHENA_DIALECT, error_level=sqlglot.ErrorLevel.RAISE), name
        assert "raw_delivery" not in athena.replace("AS raw_delivery", ""), name
