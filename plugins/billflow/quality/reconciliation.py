"""Reconciliation of a staged partition against the raw CUR totals, per line item type.

The staged side is totalled by DuckDB straight from the staged Parquet file; the comparison is plain
Decimal arithmetic. No Great Expectations import here. The gate validates the rows built here, those of
the staged rows and of each tag key together, with the `staged_reconciliation` suite.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# Enough digits for any difference of two decimal(76, 10) sums: Python's default context (28 digits)
# would round silently. Subtraction must be exact (trapped); only the final step rounds to cents.
_EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
_TO_CENTS = decimal.Context(prec=100, rounding=ROUND_HALF_UP, traps=[decimal.Overflow, decimal.InvalidOperation])
_CENT = Decimal("0.01")

# The scope of the staged rows' own reconciliation; a tag key's rows are in scope "tag key <key>".
STAGED_ROWS_SCOPE = "staged rows"

RECONCILIATION_COLUMNS = (
    "scope",
    "line_item_type",
    "in_raw",
    "in_staged",
    "raw_row_count",
    "staged_row_count",
    "staged_line_item_count",
    "raw_unblended_cost",
    "staged_unblended_cost",
    "raw_amortized_cost",
    "staged_amortized_cost",
    "unblended_diff_cents",
    "amortized_diff_cents",
    "line_item_count_diff",
)


@dataclass(frozen=True)
class Totals:
    rows: int | None
    line_item_count: int | None
    unblended_cost: Decimal | None
    amortized_cost: Decimal | None


def exact_difference(staged: Decimal, raw: Decimal) -> Decimal:
    """staged - raw without any rounding (raises decimal.Inexact rather than round)."""
    return _EXACT.subtract(staged, raw)


def diff_cents(staged: Decimal | None, raw: Decimal | None) -> int | None:
    """(staged - raw) in whole cents, rounded half away from zero; None when a side is null."""
    if staged is None or raw is None:
        return None
    difference = exact_difference(staged, raw)
    return int(_TO_CENTS.quantize(difference, _CENT).scaleb(2, _TO_CENTS))


def staged_totals(parquet_file: str) -> dict[str | None, Totals]:
    """Totals per line_item_type of a staged Parquet file."""
    return {kind: totals for (kind,), totals in _grouped_totals(parquet_file, ["line_item_type"]).items()}


def tag_key_totals(parquet_file: str) -> dict[str | None, dict[str | None, Totals]]:
    """Totals per tag key and line_item_type of a cost by tag Parquet file, in one pass."""
    by_key: dict[str | None, dict[str | None, Totals]] = {}
    for (key, kind), totals in _grouped_totals(parquet_file, ["tag_key", "line_item_type"]).items():
        by_key.setdefault(key, {})[kind] = totals
    return by_key


def _grouped_totals(parquet_file: str, keys: list[str]) -> dict[tuple, Totals]:
    """Rows, sum(line_item_count) and the two costs per group, summed exactly by DuckDB: decimal sums,
    which raise rather than round or overflow silently."""
    import duckdb

    from billflow.engines.sql import quote_literal

    group = ", ".join(keys)
    sql = f"""
        select {group}, count(*), sum(line_item_count), sum(unblended_cost), sum(amortized_cost)
        from read_parquet({quote_literal(parquet_file)}, hive_partitioning = false)
        group by {group}
    """
    with duckdb.connect() as con:
        rows = con.execute(sql).fetchall()
    width = len(keys)
    return {
        row[:width]: Totals(
            rows=row[width],
            line_item_count=row[width + 1],
            unblended_cost=row[width + 2],
            amortized_cost=row[width + 3],
        )
        for row in rows
    }


def tag_key_scope(tag_key: str) -> str:
    return f"tag key {tag_key}"


def reconciliation_rows(
    staged: dict[str | None, Totals], raw_totals: pa.Table, scope: str = STAGED_ROWS_SCOPE
) -> list[dict]:
    """Outer join of raw_totals with the staged totals (staged_totals) on line_item_type, one dict per row,
    each marked with `scope` (the staged rows, or a tag key's rows: tag_key_scope).

    A type missing on one side gets zero totals on that side (so its differences are the other side's
    totals) and in_raw / in_staged False. Duplicate raw types are kept as separate rows (the suite's
    uniqueness check fails on them).
    """
    zero = Totals(rows=0, line_item_count=0, unblended_cost=Decimal(0), amortized_cost=Decimal(0))
    rows: list[dict] = []
    seen: set[str | None] = set()
    for raw in raw_totals.select(["line_item_type", "raw_row_count", "unblended_cost", "amortized_cost"]).to_pylist():
        key = raw["line_item_type"]
        seen.add(key)
        raw_side = Totals(
            rows=raw["raw_row_count"],
            line_item_count=raw["raw_row_count"],
            unblended_cost=raw["unblended_cost"],
            amortized_cost=raw["amortized_cost"],
        )
        rows.append(_row(scope, key, raw_side, staged.get(key, zero), in_raw=True, in_staged=key in staged))
    for key, staged_side in staged.items():
        if key not in seen:
            rows.append(_row(scope, key, zero, staged_side, in_raw=False, in_staged=True))
    return rows


def _row(scope: str, key: str | None, raw: Totals, staged: Totals, *, in_raw: bool, in_staged: bool) -> dict:
    count_diff = None
    if raw.line_item_count is not None and staged.line_item_count is not None:
        count_diff = staged.line_item_count - raw.line_item_count
    return {
        "scope": scope,
        "line_item_type": key,
        "in_raw": in_raw,
        "in_staged": in_staged,
        "raw_row_count": raw.rows,
        "staged_row_count": staged.rows,
        "staged_line_item_count": staged.line_item_count,
        "raw_unblended_cost": raw.unblended_cost,
        "staged_unblended_cost": staged.unblended_cost,
        "raw_amortized_cost": raw.amortized_cost,
        "staged_amortized_cost": staged.amortized_cost,
        "unblended_diff_cents": diff_cents(staged.unblended_cost, raw.unblended_cost),
        "amortized_diff_cents": diff_cents(staged.amortized_cost, raw.amortized_cost),
        "line_item_count_diff": count_diff,
    }
