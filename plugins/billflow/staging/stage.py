"""Stage one CUR delivery: typed raw lines -> daily-grain candidate Parquet + raw totals for the gate."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

import pyarrow as pa
import pyarrow.parquet as pq

from billflow.engines.query import QueryEngine
from billflow.engines.sql import quote_literal
from billflow.formats.manifest import Delivery
from billflow.staging.columns import BLANK_IS_NULL, FORMAT_SOURCES, MONEY, RAW_COLUMNS
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)

STAGED_TABLE = "cur_daily"
CANDIDATES = "_candidates"


class StagingError(RuntimeError):
    """The delivery cannot be staged as it is (missing required columns, unreadable files)."""


REQUIRED_RAW = {
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_product_code",
    "line_item_unblended_cost",
    "line_item_currency_code",
}


@cache
def load_sql(name: str) -> str:
    return resources.files("billflow.staging").joinpath("sql", f"{name}.sql").read_text()


def _fragment(name: str) -> str:
    return "\n".join(line for line in load_sql(name).splitlines() if not line.lstrip().startswith("--"))


def partition_prefix(payer_account_id: str, period_label: str) -> str:
    return f"{STAGED_TABLE}/payer={payer_account_id}/period={period_label}"


def candidate_prefix(delivery: Delivery) -> str:
    return f"{CANDIDATES}/{delivery.payer_account_id}-{delivery.period_label}-{delivery.manifest_id}"


def typed_projection(relation: str, present: dict[str, str], source_format: str) -> str:
    """A relation with every canonical raw column, typed; columns a delivery lacks are typed nulls."""
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
    return "(select\n        " + ",\n        ".join(items) + f"\n    from {relation}) as typed_raw"


def _source_expression(column: str, present: set[str], source_format: str) -> str | None:
    if column in present:
        return column
    for candidate in FORMAT_SOURCES[source_format].get(column, []):
        base = candidate.split("[", 1)[0]
        if base in present:
            return candidate
    return None


def render_stage_sql(raw_lines: str, delivery: Delivery) -> str:
    return Template(load_sql("stage_cur_daily")).substitute(
        raw_lines=raw_lines,
        amortized_cost=_fragment("amortized_cost"),
        manifest_id=quote_literal(delivery.manifest_id),
        source_format=quote_literal(delivery.source_format),
    )


def render_raw_totals_sql(raw_lines: str) -> str:
    return Template(load_sql("raw_totals")).substitute(raw_lines=raw_lines, amortized_cost=_fragment("amortized_cost"))


@dataclass(frozen=True)
class StageResult:
    candidate_prefix: str
    staged_rows: int
    raw_rows: int
    seconds: float


def stage_delivery(delivery: Delivery, landing: ObjectStore, staged: ObjectStore, engine: QueryEngine) -> StageResult:
    """Write the candidate partition and the raw totals beside it; the live partition is untouched."""
    started = time.perf_counter()
    uris = [landing.uri(landing.key_from_uri(uri)) for uri in delivery.data_uris]
    relation = engine.raw_relation(uris)
    try:
        present = engine.relation_columns(relation)
    except Exception as exc:
        raise StagingError(f"cannot read the data files of {delivery.manifest_key}: {exc}") from exc
    raw_lines = typed_projection(relation, present, delivery.source_format)
    prefix = candidate_prefix(delivery)
    staged.delete_prefix(prefix)
    staged_rows = engine.copy_to_parquet(
        render_stage_sql(raw_lines, delivery), staged.uri(f"{prefix}/data/part-0.parquet")
    )
    raw_totals = engine.query_arrow(render_raw_totals_sql(raw_lines))
    staged.write_bytes(f"{prefix}/raw_totals.parquet", table_to_parquet_bytes(raw_totals))
    raw_rows = sum(raw_totals.column("raw_row_count").to_pylist())
    seconds = time.perf_counter() - started
    log.info(
        "staged %s %s (%s): %d raw lines -> %d daily rows in %.2f s",
        delivery.payer_account_id,
        delivery.period_label,
        delivery.manifest_id,
        raw_rows,
        staged_rows,
        seconds,
    )
    return StageResult(prefix, staged_rows, raw_rows, seconds)


def read_candidate(staged: ObjectStore, prefix: str) -> tuple[pa.Table, pa.Table]:
    """The candidate rows and the raw totals written by stage_delivery."""
    data = pq.read_table(io.BytesIO(staged.read_bytes(f"{prefix}/data/part-0.parquet")))
    totals = pq.read_table(io.BytesIO(staged.read_bytes(f"{prefix}/raw_totals.parquet")))
    return data, totals


def promote_candidate(staged: ObjectStore, delivery: Delivery, prefix: str) -> str:
    """Replace the live partition with the checked candidate in one step; drop the candidate."""
    target = partition_prefix(delivery.payer_account_id, delivery.period_label)
    staged.replace_prefix(f"{prefix}/data", target)
    staged.delete_prefix(prefix)
    return target


def table_to_parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
