"""Stage one CUR delivery: typed raw lines -> daily-grain candidate Parquet + raw totals for the gate."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from billflow.engines.query import RAW_DELIVERY, QueryEngine, inline_relation
from billflow.engines.sql import quote_literal
from billflow.formats.columns import athena_column_name
from billflow.formats.manifest import Delivery
from billflow.staging.columns import (
    BLANK_IS_NULL,
    FORMAT_SOURCES,
    MONEY,
    RAW_COLUMNS,
    REQUIRED_RAW,
    STAGED_TAG_SCHEMA,
)
from billflow.staging.versions import VersionRef, delete_version, new_version_id
from billflow.storage.base import ObjectStore

if TYPE_CHECKING:
    from billflow.staging.raw_checks import RawChecks, RawFinding

log = logging.getLogger(__name__)


class StagingError(RuntimeError):
    """The delivery cannot be staged as it is (missing required columns, unreadable files)."""


@cache
def load_sql(name: str) -> str:
    return resources.files("billflow.staging").joinpath("sql", f"{name}.sql").read_text()


def fragment(name: str) -> str:
    """An SQL file without its comment lines, to be inlined into another query."""
    return "\n".join(line for line in load_sql(name).splitlines() if not line.lstrip().startswith("--"))


def tag_value_expression(tag_key: str, present: set[str], source_format: str) -> str:
    """The value of a user tag on a raw line ('' -> null): a resource_tags_user_* column in legacy CUR,
    a key of the resource_tags map in CUR 2.0."""
    legacy_column = f"resource_tags_user_{athena_column_name(tag_key)}"
    if source_format == "cur2" and "resource_tags" in present:
        return f"nullif(resource_tags[{quote_literal('user:' + tag_key)}], '')"
    if legacy_column in present:
        return f"nullif(cast({legacy_column} as varchar), '')"
    return "cast(null as varchar)"


def typed_projection(present: set[str], source_format: str, tag_keys: tuple[str, ...] = ()) -> str:
    """The delivery's raw lines (RAW_DELIVERY, whose files have the `present` columns) with every canonical
    raw column, typed; columns a delivery lacks are typed nulls. Each allocation tag key adds a column
    tag_value_<n> (n = its position in tag_keys)."""
    present_names = set(present)
    missing_required = sorted(
        c for c in REQUIRED_RAW if c not in present_names and not FORMAT_SOURCES[source_format].get(c)
    )
    if missing_required:
        raise StagingError(f"the delivery's files lack required columns: {', '.join(missing_required)}")
    items = []
    for column, sql_type in RAW_COLUMNS.items():
        source = _source_expression(column, present_names, source_format)
        if source is None:
            expr = f"cast({0 if sql_type == MONEY else 'null'} as {sql_type})"
        elif column in BLANK_IS_NULL:
            expr = f"nullif(cast({source} as {sql_type}), '')"
        elif sql_type == MONEY:
            expr = f"coalesce(cast({source} as {sql_type}), 0)"
        else:
            expr = f"cast({source} as {sql_type})"
        items.append(f"{expr} as {column}")
    for number, tag_key in enumerate(tag_keys):
        items.append(f"{tag_value_expression(tag_key, present_names, source_format)} as tag_value_{number}")
    return "(select\n        " + ",\n        ".join(items) + f"\n    from {RAW_DELIVERY}) as typed_raw"


def _source_expression(column: str, present: set[str], source_format: str) -> str | None:
    if column in present:
        return column
    for candidate in FORMAT_SOURCES[source_format].get(column, []):
        base = candidate.split("[", 1)[0]
        if base in present:
            return candidate
    return None


FOLDED = "staged_fold"
_FOLD_GRAIN = 15  # the staged grain's columns, first in stage_fold.sql


def render_fold_sql(raw_lines: str, tag_count: int = 0) -> str:
    """The delivery's lines (`raw_lines`: typed_projection) folded to the staged grain and the values of its
    `tag_count` allocation tags (stage_fold.sql): what the staged rows and the cost by tag both sum."""
    tag_values = "".join(f"tag_value_{number},\n        " for number in range(tag_count))
    return Template(load_sql("stage_fold")).substitute(
        raw_lines=raw_lines,
        tag_values=tag_values,
        amortized_cost=fragment("amortized_cost"),
        group_by=", ".join(str(position) for position in range(1, _FOLD_GRAIN + tag_count + 1)),
    )


def inline_fold(fold_sql: str) -> str:
    """The fold as a relation of a single statement (an engine that cannot keep it between statements)."""
    return inline_relation(fold_sql, FOLDED)


def render_stage_sql(folded: str, delivery: Delivery) -> str:
    """The staged rows from `folded`, the relation of render_fold_sql's result."""
    return Template(load_sql("stage_cur_daily")).substitute(
        folded=folded,
        manifest_id=quote_literal(delivery.manifest_id),
        source_format=quote_literal(delivery.source_format),
    )


def render_tags_sql(folded: str, delivery: Delivery, tag_keys: tuple[str, ...]) -> str:
    """The cost by tag value of each key in `tag_keys` from `folded` (folded with len(tag_keys) tag values)."""
    columns = "billing_period, payer_account_id, usage_account_id, usage_date, line_item_type, product_code, usage_type"
    tagged_lines = "\n    union all\n".join(
        f"    select {columns}, {quote_literal(key)} as tag_key, tag_value_{number} as tag_value, "
        f"unblended_cost, amortized_cost, line_item_count from {folded}"
        for number, key in enumerate(tag_keys)
    )
    return Template(load_sql("stage_cur_daily_tags")).substitute(
        tagged_lines=tagged_lines,
        manifest_id=quote_literal(delivery.manifest_id),
    )


@dataclass(frozen=True)
class StageResult:
    version: VersionRef
    staged_rows: int
    raw_rows: int
    seconds: float
    tag_rows: int = 0
    findings: tuple[RawFinding, ...] = ()  # what the raw inspection found (the gate fails on any)


def stage_delivery(
    delivery: Delivery,
    landing: ObjectStore,
    staged: ObjectStore,
    engine: QueryEngine,
    tag_keys: tuple[str, ...] = (),
    version_id: str | None = None,
    rules_dir: Path | None = None,
) -> StageResult:
    """Write a new version of the delivery's partition (not live: a release makes it so) with its cost by
    allocation tag, and beside it the raw totals and raw checks of billflow.staging.raw_checks (read from
    the raw files independently of the projection; the currency check reads the rule set `rules_dir`,
    default the configured project's rules/). Live versions are never touched; a version that cannot be
    written completely is deleted again. Raises StagingError, naming the delivery, the file and the
    column, when the raw files cannot be staged as they are."""
    started = time.perf_counter()
    version = VersionRef(
        delivery.payer_account_id, delivery.billing_period, version_id or new_version_id(delivery.manifest_id)
    )
    if rules_dir is None:
        from billflow.config import load_settings

        rules_dir = load_settings().dbt_project_dir / "rules"
    try:
        return _write_version(delivery, landing, staged, engine, tag_keys, version, started, rules_dir)
    except BaseException:
        delete_version(staged, version)
        raise


def _write_version(
    delivery: Delivery,
    landing: ObjectStore,
    staged: ObjectStore,
    engine: QueryEngine,
    tag_keys: tuple[str, ...],
    version: VersionRef,
    started: float,
    rules_dir: Path,
) -> StageResult:
    from billflow.staging.raw_checks import files_word, inspect_delivery

    inspection = inspect_delivery(delivery, landing, engine, rules_dir=rules_dir)
    staged.write_bytes(version.raw_totals_key, table_to_parquet_bytes(inspection.totals))
    staged.write_bytes(version.raw_checks_key, inspection.checks.to_json())
    keys = list(delivery.data_keys)
    uris = [landing.uri(key) for key in keys]
    where = (
        f"payer {delivery.payer_account_id}, period {delivery.period_label}, manifest {delivery.manifest_key}, "
        f"{files_word(keys)}"
    )
    try:
        fold = render_fold_sql(typed_projection(inspection.columns, delivery.source_format, tag_keys), len(tag_keys))
        outputs = [(lambda folded: render_stage_sql(folded, delivery), staged.uri(version.cost_key))]
        if tag_keys:
            outputs.append((lambda folded: render_tags_sql(folded, delivery, tag_keys), staged.uri(version.tags_key)))
        counts = engine.unload_each(fold, FOLDED, outputs, uris)
        staged_rows = counts[0]
        if tag_keys:
            tag_rows = counts[1]
        else:  # keep the staged tag table readable (the warehouse reads every partition) with no keys configured
            tag_rows = 0
            staged.write_bytes(version.tags_key, table_to_parquet_bytes(STAGED_TAG_SCHEMA.empty_table()))
    except StagingError as exc:
        raise StagingError(f"cannot stage {where}: {exc}") from exc
    except Exception as exc:  # the raw inspection read these files: say where and what the engine said
        raise StagingError(f"cannot stage {where}: {type(exc).__name__}: {exc}") from exc
    raw_rows = inspection.raw_rows
    seconds = time.perf_counter() - started
    log.info(
        "staged %s %s (%s) as version %s: %d raw lines -> %d daily rows in %.2f s",
        delivery.payer_account_id,
        delivery.period_label,
        delivery.manifest_id,
        version.version_id,
        raw_rows,
        staged_rows,
        seconds,
    )
    return StageResult(version, staged_rows, raw_rows, seconds, tag_rows, inspection.checks.findings)


def read_candidate(staged: ObjectStore, version: VersionRef) -> tuple[pa.Table, pa.Table]:
    """The staged rows of a version and the raw totals written beside them by stage_delivery."""
    data = pq.read_table(io.BytesIO(staged.read_bytes(version.cost_key)))
    return data, read_raw_totals(staged, version)


def read_raw_totals(staged: ObjectStore, version: VersionRef) -> pa.Table:
    """The raw totals per line item type written beside a version by stage_delivery."""
    return pq.read_table(io.BytesIO(staged.read_bytes(version.raw_totals_key)))


@contextlib.contextmanager
def local_version_files(staged: ObjectStore, version: VersionRef) -> Iterator[tuple[str, str]]:
    """Local paths of a version's staged rows and cost by tag (Parquet): the files themselves in a local
    store, copies in a scratch folder (removed afterwards) in S3."""
    keys = (version.cost_key, version.tags_key)
    if not any(staged.uri(key).startswith("s3://") for key in keys):
        yield staged.uri(keys[0]), staged.uri(keys[1])
        return
    with tempfile.TemporaryDirectory(prefix="billflow-version-") as scratch:
        paths = (Path(scratch) / "cur_daily.parquet", Path(scratch) / "cur_daily_tags.parquet")
        for key, path in zip(keys, paths, strict=True):
            path.write_bytes(staged.read_bytes(key))
        yield str(paths[0]), str(paths[1])


def every_row_invoiced(staged_file: str) -> bool:
    """Whether a staged file has rows and each has an AWS invoice id (the period is final); reads that column only."""
    invoice_ids = pq.read_table(staged_file, columns=["invoice_id"]).column("invoice_id")
    return len(invoice_ids) > 0 and invoice_ids.null_count == 0


def raw_unblended_total(raw_totals: pa.Table) -> Decimal:
    """The delivery's unblended cost straight from its raw lines (what the load ledger records)."""
    return sum(raw_totals.column("unblended_cost").to_pylist(), Decimal(0))


def read_raw_checks(staged: ObjectStore, version: VersionRef) -> RawChecks:
    """What the raw inspection found in the version's delivery (written by stage_delivery)."""
    from billflow.staging.raw_checks import RawChecks

    return RawChecks.from_json(staged.read_bytes(version.raw_checks_key))


def read_candidate_tags(staged: ObjectStore, version: VersionRef) -> pa.Table:
    """A version's cost by allocation tag, written by stage_delivery."""
    return pq.read_table(io.BytesIO(staged.read_bytes(version.tags_key)))


def table_to_parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
