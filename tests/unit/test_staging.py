"""Staging folds raw CUR lines to daily grain with the amortized-cost rule, for both layouts."""

from datetime import date
from decimal import Decimal

import pyarrow.compute as pc
import pytest
import sqlglot

from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.formats.manifest import Delivery
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from billflow.staging.stage import (
    StagingError,
    inline_fold,
    read_candidate,
    read_candidate_tags,
    read_raw_checks,
    render_fold_sql,
    render_stage_sql,
    stage_delivery,
    typed_projection,
)
from billflow.storage.local import LocalStore
from tests.rawcur import EXPECTED_TOTALS, PAYER, raw_table, write_raw


def make_delivery(source_format, key, manifest_id="m-1"):
    return Delivery(
        payer_account_id=PAYER,
        billing_period=date(2026, 9, 1),
        manifest_id=manifest_id,
        source_format=source_format,
        report_name="r",
        # the report r's manifest: its data files lie under {PAYER}/r/
        manifest_key=f"{PAYER}/r/20260901-20261001/r-Manifest.json",
        data_uris=(f"s3://bucket/{key}",),
    )


def stage(tmp_path, source_format="legacy", table=None, manifest_id="m-1"):
    landing, staged = LocalStore(tmp_path / "landing"), LocalStore(tmp_path / "staged")
    key = f"{PAYER}/r/data/part-{manifest_id}.parquet"
    write_raw(tmp_path / "landing" / key, table if table is not None else raw_table(source_format))
    delivery = make_delivery(source_format, key, manifest_id)
    result = stage_delivery(delivery, landing, staged, DuckDBEngine(threads=1))
    candidate, totals = read_candidate(staged, result.version)
    return delivery, staged, result, candidate, totals


def totals_by_type(table, count_column):
    out = {}
    for row in table.to_pylist():
        t = out.setdefault(row["line_item_type"], [0, Decimal(0), Decimal(0)])
        t[0] += row[count_column]
        t[1] += row["unblended_cost"]
        t[2] += row["amortized_cost"]
    return {k: (n, str(u.quantize(Decimal("0.01"))), str(a.quantize(Decimal("0.01")))) for k, (n, u, a) in out.items()}


@pytest.mark.parametrize("source_format", ["legacy", "cur2"])
def test_staged_totals_per_type_follow_the_amortized_rule(tmp_path, source_format):
    _, _, result, candidate, raw_totals = stage(tmp_path, source_format)

    assert totals_by_type(candidate, "line_item_count") == EXPECTED_TOTALS
    assert totals_by_type(raw_totals, "raw_row_count") == EXPECTED_TOTALS
    assert result.raw_rows == 12
    assert result.staged_rows == 11  # the two EC2 usage hours of day 1 fold into one daily row


def test_staged_rows_are_typed_and_keyed_at_daily_grain(tmp_path):
    _, _, _, candidate, _ = stage(tmp_path, "cur2")

    assert [(f.name, f.type) for f in candidate.schema] == [(f.name, f.type) for f in STAGED_SCHEMA]
    assert str(candidate.schema.field("unblended_cost").type) == "decimal128(38, 10)"
    assert str(candidate.schema.field("usage_date").type) == "date32[day]"
    usage = candidate.filter(pc.equal(candidate["line_item_type"], "Usage")).to_pylist()
    assert len(usage) == 1
    assert usage[0]["usage_date"] == date(2026, 9, 1)
    assert usage[0]["unblended_cost"] == Decimal("2.0000000000")
    assert usage[0]["line_item_count"] == 2
    assert usage[0]["region"] == "us-east-1"
    assert usage[0]["manifest_id"] == "m-1" and usage[0]["source_format"] == "cur2"
    assert set(candidate.column("billing_period").to_pylist()) == {date(2026, 9, 1)}


def test_blank_invoice_ids_and_arns_become_null(tmp_path):
    _, _, _, candidate, _ = stage(tmp_path, "legacy")

    assert set(candidate.column("invoice_id").to_pylist()) == {None}
    tax = candidate.filter(pc.equal(candidate["line_item_type"], "Tax")).to_pylist()[0]
    assert tax["commitment_arn"] is None


def test_columns_a_delivery_lacks_are_staged_as_nulls(tmp_path):
    table = raw_table("legacy").drop_columns(["pricing_public_on_demand_cost", "line_item_operation"])
    _, _, _, candidate, _ = stage(tmp_path, "legacy", table)

    assert set(candidate.column("public_on_demand_cost").to_pylist()) == {Decimal(0)}
    assert set(candidate.column("operation").to_pylist()) == {""}


def test_a_delivery_without_a_required_column_is_refused(tmp_path):
    table = raw_table("legacy").drop_columns(["line_item_line_item_type"])
    with pytest.raises(StagingError, match="line_item_line_item_type"):
        stage(tmp_path, "legacy", table)


def test_each_delivery_is_staged_into_a_version_of_its_own_beside_the_others(tmp_path):
    _, staged, first, _, _ = stage(tmp_path, "legacy", manifest_id="first")
    _, staged, second, _, _ = stage(tmp_path, "legacy", manifest_id="second")

    assert first.version.version_id.endswith("Z-first") and second.version.version_id.endswith("Z-second")
    assert first.version.version_id < second.version.version_id  # in staging order
    folder = f"versions/payer={PAYER}/period=2026-09"
    assert staged.list_keys() == [
        f"{folder}/{version.version_id}/{name}"
        for version in (first.version, second.version)
        for name in (
            "cur_daily/part-0.parquet",
            "cur_daily_tags/part-0.parquet",
            "raw_checks.json",
            "raw_totals.parquet",
        )
    ]


def test_a_delivery_that_cannot_be_staged_leaves_no_version_behind(tmp_path):
    table = raw_table("legacy").drop_columns(["line_item_line_item_type"])
    with pytest.raises(StagingError):
        stage(tmp_path, "legacy", table)

    assert LocalStore(tmp_path / "staged").list_keys() == []


def test_staging_sql_carries_to_trino_for_athena():
    engine = DuckDBEngine(threads=1)
    raw_lines = typed_projection(set(raw_table("cur2").column_names), "cur2")
    sql = render_stage_sql(inline_fold(render_fold_sql(raw_lines)), make_delivery("cur2", "k"))
    trino = sqlglot.transpile(sql, read="duckdb", write="trino", error_level=sqlglot.ErrorLevel.RAISE)[0]
    assert "DECIMAL(38, 10)" in trino
    assert "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15" in trino
    engine.close()


@pytest.mark.parametrize("source_format", ["legacy", "cur2"])
def test_each_allocation_tag_key_carries_every_raw_line_once(tmp_path, source_format):
    landing, staged = LocalStore(tmp_path / "landing"), LocalStore(tmp_path / "staged")
    key = f"{PAYER}/r/data/part.parquet"
    write_raw(tmp_path / "landing" / key, raw_table(source_format))

    result = stage_delivery(
        make_delivery(source_format, key), landing, staged, DuckDBEngine(threads=1), tag_keys=("team", "project")
    )
    tags = read_candidate_tags(staged, result.version)

    assert [(f.name, f.type) for f in tags.schema] == [(f.name, f.type) for f in STAGED_TAG_SCHEMA]
    by_value = {}
    for row in tags.to_pylist():
        total = by_value.setdefault((row["tag_key"], row["tag_value"]), [0, Decimal(0), Decimal(0)])
        total[0] += row["line_item_count"]
        total[1] += row["unblended_cost"]
        total[2] += row["amortized_cost"]
    assert {k: (n, str(u.normalize()), str(a.normalize())) for k, (n, u, a) in by_value.items()} == {
        ("team", "web"): (2, "2", "2"),
        ("team", "data"): (1, "2", "1.4"),
        ("team", None): (9, "115.33", "-1.67"),  # 1.73 - 2.00 - 1.40
        ("project", None): (12, "119.33", "1.73"),  # no line has a project tag
    }


def test_without_tag_keys_the_tag_table_is_empty_but_readable(tmp_path):
    _, staged, result, _, _ = stage(tmp_path, "legacy")

    tags = read_candidate_tags(staged, result.version)

    assert tags.num_rows == 0 and tags.schema == STAGED_TAG_SCHEMA


def test_the_gate_reconciles_each_tag_key_with_the_raw_lines(tmp_path):
    from billflow.quality.gate import check_staged_partition

    landing, staged = LocalStore(tmp_path / "landing"), LocalStore(tmp_path / "staged")
    key = f"{PAYER}/r/data/part.parquet"
    write_raw(tmp_path / "landing" / key, raw_table("legacy"))
    result = stage_delivery(make_delivery("legacy", key), landing, staged, DuckDBEngine(threads=1), tag_keys=("team",))
    candidate, raw_totals = read_candidate(staged, result.version)
    tags = read_candidate_tags(staged, result.version)
    gate = {
        "payer_account_id": PAYER,
        "billing_period": date(2026, 9, 1),
        "tag_keys": ("team",),
        "raw_checks": read_raw_checks(staged, result.version),
    }

    assert check_staged_partition(candidate, raw_totals, tag_costs=tags, **gate).passed

    no_web = tags.filter(pc.invert(pc.equal(tags["tag_value"], "web")))
    failed = check_staged_partition(candidate, raw_totals, tag_costs=no_web, **gate)
    assert not failed.passed
    assert any(f.startswith("tag key team: line item type Usage") for f in failed.failures), failed.failures
    unknown = check_staged_partition(candidate, raw_totals, tag_costs=tags, **{**gate, "tag_keys": ()})
    assert "tag key 'team' is in the tag costs but not configured" in unknown.failures
