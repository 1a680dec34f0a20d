"""The warehouse of a load is built beside the live one and replaces it only by a release, atomically;
an earlier version's staged partitions are adopted as live versions on upgrade."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billflow.config import load_settings
from billflow.control.schema import ensure_control_tables
from billflow.control.versions import live_versions, recorded_versions
from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from billflow.staging.migrate import adopt_unversioned_partitions
from billflow.staging.versions import VersionRef
from billflow.storage.local import LocalStore
from billflow.warehouse.build import (
    WarehouseBuildError,
    build_id_of,
    complete_warehouse_release,
    discard_warehouse_build,
    live_warehouse_versions,
    prepare_warehouse_build,
    release_warehouse,
)

SEPT = date(2026, 9, 1)
PAYER_A, PAYER_B = "111111111111", "222222222222"


def staged_rows(payer: str, manifest_id: str, costs: list[str], invoice_id: str | None = None) -> pa.Table:
    rows = []
    for day, cost in enumerate(costs, start=1):
        row = {field.name: "" for field in STAGED_SCHEMA if pa.types.is_string(field.type)}
        row.update(
            billing_period=SEPT,
            payer_account_id=payer,
            usage_account_id=payer[:1] + "00000000001",
            usage_date=date(2026, 9, day),
            line_item_type="Usage",
            product_code="AmazonEC2",
            currency_code="USD",
            invoice_id=invoice_id,
            commitment_arn=None,
            usage_amount=Decimal("1"),
            unblended_cost=Decimal(cost),
            amortized_cost=Decimal(cost),
            public_on_demand_cost=Decimal(cost),
            line_item_count=2,
            manifest_id=manifest_id,
            source_format="legacy",
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=STAGED_SCHEMA)


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def put_version(store: LocalStore, payer: str, stamp: str, manifest_id: str, costs: list[str]) -> VersionRef:
    version = VersionRef(payer, SEPT, f"{stamp}Z-{manifest_id}")
    store.write_bytes(version.cost_key, parquet(staged_rows(payer, manifest_id, costs)))
    store.write_bytes(version.tags_key, parquet(STAGED_TAG_SCHEMA.empty_table()))
    return version


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path))
    for name in ("WAREHOUSE_PATH", "WAREHOUSE_BUILD_PATH", "WAREHOUSE_CONN_ID", "STAGED_URI"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    return load_settings()


def cost_total(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select payer_account_id, sum(unblended_cost), count(*) from staged.cur_daily group by 1 order by 1"
        ).fetchall()
    finally:
        con.close()


def test_the_candidate_warehouse_holds_exactly_the_versions_of_its_release(settings):
    store = LocalStore(settings.staged_uri)
    a = put_version(store, PAYER_A, "20261001T000000000000", "m-a", ["1.25", "2.50"])
    b = put_version(store, PAYER_B, "20261001T000000000001", "m-b", ["10.00"])
    put_version(store, PAYER_A, "20261002T000000000000", "m-unreleased", ["99.00"])

    info = prepare_warehouse_build(settings, store, [b, a], "r1")

    path = settings.warehouse_candidate_path
    assert path == Path(settings.home) / "candidate" / "warehouse.duckdb"
    assert (info.build_id, info.versions, info.cost_rows, info.tag_rows) == ("r1", (a, b), 3, 0)
    assert cost_total(path) == [(PAYER_A, Decimal("3.7500000000"), 2), (PAYER_B, Decimal("10.0000000000"), 1)]
    assert build_id_of(path) == "r1"
    assert not settings.warehouse_path.exists()  # nothing live changed


def test_a_release_renames_the_candidate_over_the_live_warehouse(settings):
    store = LocalStore(settings.staged_uri)
    first = put_version(store, PAYER_A, "20261001T000000000000", "m-1", ["1.00"])
    prepare_warehouse_build(settings, store, [first], "r1")
    release_warehouse(settings, "r1")
    second = put_version(store, PAYER_A, "20261002T000000000000", "m-2", ["2.00"])
    prepare_warehouse_build(settings, store, [second], "r2")

    assert cost_total(settings.warehouse_path) == [(PAYER_A, Decimal("1.0000000000"), 1)]  # r2 not released
    release_warehouse(settings, "r2")

    assert cost_total(settings.warehouse_path) == [(PAYER_A, Decimal("2.0000000000"), 1)]
    assert live_warehouse_versions(settings) == [(PAYER_A, "2026-09", "20261002T000000000000Z-m-2")]
    assert not settings.warehouse_candidate_path.exists()


def test_only_the_build_of_the_release_is_renamed(settings):
    store = LocalStore(settings.staged_uri)
    prepare_warehouse_build(settings, store, [put_version(store, PAYER_A, "20261001T000000000000", "m", ["1"])], "r1")

    with pytest.raises(WarehouseBuildError, match="holds build 'r1', not 'r2'"):
        release_warehouse(settings, "r2")

    assert not settings.warehouse_path.exists()


def test_a_release_interrupted_after_its_commit_is_completed_and_a_failed_build_discarded(settings):
    store = LocalStore(settings.staged_uri)
    version = put_version(store, PAYER_A, "20261001T000000000000", "m", ["1"])
    prepare_warehouse_build(settings, store, [version], "r1")

    assert discard_warehouse_build(settings, keep_build_id="r1") is False  # the committed release needs it
    assert complete_warehouse_release(settings, "r1") == "completed"
    assert build_id_of(settings.warehouse_path) == "r1"
    assert complete_warehouse_release(settings, "r1") == "current"
    prepare_warehouse_build(settings, store, [version], "r2")  # a run that failed before its release
    assert complete_warehouse_release(settings, "r1") == "current"
    assert discard_warehouse_build(settings, keep_build_id="r1") is True
    assert not settings.warehouse_candidate_path.exists()
    assert complete_warehouse_release(settings, "r3") == "stale"


def test_partitions_of_the_unversioned_layout_are_adopted_as_live_versions(settings):
    store = LocalStore(settings.staged_uri)
    store.write_bytes(
        f"cur_daily/payer={PAYER_A}/period=2026-09/part-0.parquet",
        parquet(staged_rows(PAYER_A, "assembly-7", ["1.50", "2.25"], invoice_id="INV-1")),
    )
    store.write_bytes(f"_candidates/{PAYER_A}-2026-09-x/data/part-0.parquet", b"left by a failed run")
    db = DuckDBDatabase(Path(settings.home) / "serving.duckdb")
    ensure_control_tables(db)

    [adopted] = adopt_unversioned_partitions(store, db, datetime(2026, 12, 1, 6))

    assert adopted == VersionRef(PAYER_A, SEPT, "20261201T060000000000Z-assembly-7")
    assert live_versions(db) == [adopted]
    assert [r.released_in for r in recorded_versions(db)] == ["r20261201T060000000000Z"]
    assert db.fetch_all(
        "select raw_row_count, staged_row_count, unblended_cost, is_final from billing_control.staged_versions"
    ) == [(4, 2, Decimal("3.7500000000"), True)]
    assert store.list_keys() == [adopted.cost_key, adopted.tags_key]
    assert adopt_unversioned_partitions(store, db, datetime(2026, 12, 2)) == []  # idempotent
    db.close()
