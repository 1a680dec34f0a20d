"""Plain-word failure messages from Great Expectations validation results.

Works on the result objects only through attribute access: no Great Expectations import here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from billflow.quality.reconciliation import STAGED_ROWS_SCOPE, exact_difference

_EXAMPLES = 3


# ---------------------------------------------------------------- formatting helpers


def fmt_value(value: Any) -> str:
    if value is None or _is_na(value):
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.datetime):  # includes pandas.Timestamp
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return fmt_money(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    return str(value)


def fmt_money(value: Decimal | None) -> str:
    """12.3400000000 -> '12.34', 12.3456 -> '12.3456', 5 -> '5.00' (never float)."""
    if value is None:
        return "null"
    if value == 0:
        return "0.00"  # also -0 and 0E-10
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def rows_word(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _is_na(value: Any) -> bool:
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False


def _examples(values: Sequence[Any] | None) -> str:
    distinct: list[str] = []
    for value in values or ():
        text = fmt_value(value)
        if text not in distinct:
            distinct.append(text)
        if len(distinct) == _EXAMPLES:
            break
    return f" (e.g. {', '.join(distinct)})" if distinct else ""


# ---------------------------------------------------------------- generic result access


def is_failed(result: Any) -> bool:
    return result.success is not True


def exception_message(result: Any) -> str | None:
    """The exception a check raised, if any (GX nests it per metric when a metric failed)."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return info.get("exception_message") or "unknown error"
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "unknown error"
    return None


def describe_check(result: Any) -> str:
    config = result.expectation_config
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else config.type


def _bounds(kwargs: dict) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None and low == high:
        return f"!= {fmt_value(low)}"
    if low is not None and high is not None:
        return f"outside {fmt_value(low)}..{fmt_value(high)}"
    if low is not None:
        return f"< {fmt_value(low)}"
    return f"> {fmt_value(high)}"


def _in_set(column: str, value_set: Sequence[Any]) -> str:
    values = list(value_set)
    if len(values) == 1:
        return f"{column} != {fmt_value(values[0])}"
    if len(values) <= 5:
        return f"{column} not in ({', '.join(fmt_value(v) for v in values)})"
    return f"unknown {column}"


# ---------------------------------------------------------------- staged rows suite


def row_suite_messages(result: Any) -> list[str]:
    """Messages for one failed expectation of the staged-rows suite (SUMMARY result format)."""
    config = result.expectation_config
    kwargs = config.kwargs
    error = exception_message(result)
    if error is not None:
        return [f"check {describe_check(result)} could not run: {error}"]
    details = result.result or {}
    column = kwargs.get("column")
    kind = config.type

    if kind == "expect_table_row_count_to_be_between":
        observed = details.get("observed_value")
        if observed == 0:
            return ["staged partition is empty (0 rows)"]
        return [f"staged partition has {rows_word(observed)}, expected row count {_bounds(kwargs)}"]
    if kind == "expect_table_columns_to_match_set":
        mismatched = (details.get("details") or {}).get("mismatched") or {}
        parts = []
        if mismatched.get("missing"):
            parts.append("missing " + ", ".join(sorted(mismatched["missing"])))
        if mismatched.get("unexpected"):
            parts.append("unexpected " + ", ".join(sorted(mismatched["unexpected"])))
        return ["staged columns differ from the staged schema: " + ("; ".join(parts) or "order or set")]

    if column is not None and "unexpected_count" in details:
        count = details["unexpected_count"]
        examples = _examples(details.get("partial_unexpected_list"))
        if kind == "expect_column_values_to_not_be_null":
            return [f"{rows_word(count)} with null {column}"]
        if kind == "expect_column_values_to_be_in_set":
            return [f"{rows_word(count)} with {_in_set(column, kwargs['value_set'])}{examples}"]
        if kind == "expect_column_values_to_be_between":
            return [f"{rows_word(count)} with {column} {_bounds(kwargs)}{examples}"]
        if kind == "expect_column_values_to_be_unique":
            return [f"{rows_word(count)} with a duplicate {column}{examples}"]
        if kind in ("expect_column_values_to_match_regex", "expect_column_values_to_fully_match_regex"):
            return [f"{rows_word(count)} with a {column} not like {kwargs['regex']}{examples}"]
        what = config.description or describe_check(result)
        return [f"{rows_word(count)} fail: {what}{examples}"]
    what = config.description or describe_check(result)
    return [f"check failed: {what} (observed {fmt_value(details.get('observed_value'))})"]


# ---------------------------------------------------------------- reconciliation suite


def _type_label(row: dict) -> str:
    """The row's line item type, after its scope unless that is the staged rows' own: 'tag key team: ...'."""
    key = row["line_item_type"]
    label = "line item type (null)" if key is None else f"line item type {key}"
    return label if row["scope"] == STAGED_ROWS_SCOPE else f"{row['scope']}: {label}"


def _raw_rows(count: int | None) -> str:
    return "null raw rows" if count is None else rows_word(count).replace("row", "raw row")


def _one_sided(row: dict) -> bool:
    return not (row["in_raw"] and row["in_staged"])


def reconciliation_messages(result: Any, rows: list[dict]) -> list[str]:
    """Messages for one failed expectation of the reconciliation suite (COMPLETE result format)."""
    config = result.expectation_config
    kwargs = config.kwargs
    error = exception_message(result)
    if error is not None:
        return [f"reconciliation check {describe_check(result)} could not run: {error}"]
    details = result.result or {}
    column = kwargs.get("column")
    kind = config.type

    if kind == "expect_table_row_count_to_be_between":
        return ["nothing to reconcile: raw totals and staged partition are both empty"]
    if kind == "expect_compound_columns_to_be_unique" and "unexpected_index_list" in details:
        labels = [_type_label(rows[i]) for i in details["unexpected_index_list"]]
        return [f"{label}: listed more than once in the raw totals" for label in dict.fromkeys(labels)]
    if column is None or "unexpected_index_list" not in details:
        what = config.description or describe_check(result)
        return [f"reconciliation check failed: {what}"]

    failing = [rows[i] for i in details["unexpected_index_list"]]
    messages: list[str] = []
    for row in failing:
        label = _type_label(row)
        if column == "in_staged":
            messages.append(
                f"{label}: in raw ({rows_word(row['raw_row_count'] or 0)}, "
                f"unblended {fmt_money(row['raw_unblended_cost'])}, "
                f"amortized {fmt_money(row['raw_amortized_cost'])}) but missing from staged"
            )
        elif column == "in_raw":
            messages.append(
                f"{label}: in staged ({rows_word(row['staged_row_count'] or 0)} folding "
                f"{_raw_rows(row['staged_line_item_count'])}, "
                f"unblended {fmt_money(row['staged_unblended_cost'])}, "
                f"amortized {fmt_money(row['staged_amortized_cost'])}) but not in the raw totals"
            )
        elif kind == "expect_column_values_to_not_be_null":
            messages.append(f"{label}: {_null_side(column, row)}")
        elif _one_sided(row):
            continue  # already reported, with its totals, by the presence checks
        elif column in ("unblended_diff_cents", "amortized_diff_cents"):
            name = column.removesuffix("_diff_cents").removesuffix("_cost")
            staged, raw = row[f"staged_{name}_cost"], row[f"raw_{name}_cost"]
            messages.append(
                f"{label}: staged {name} {fmt_money(staged)} != raw {fmt_money(raw)} "
                f"(difference {fmt_money(exact_difference(staged, raw))})"
            )
        elif column == "line_item_count_diff":
            messages.append(
                f"{label}: staged rows fold {_raw_rows(row['staged_line_item_count'])} "
                f"(sum of line_item_count) != raw_row_count {row['raw_row_count']} "
                f"(difference {row['line_item_count_diff']:+d})"
            )
        else:
            messages.append(f"{label}: {config.description or describe_check(result)}")
    return messages


def _null_side(column: str, row: dict) -> str:
    if column == "line_item_count_diff":
        raw, staged, what = row["raw_row_count"], row["staged_line_item_count"], "row count"
    else:
        name = column.removesuffix("_diff_cents")
        raw, staged, what = row[f"raw_{name}_cost"], row[f"staged_{name}_cost"], f"{name} cost"
    sides = [side for side, value in (("raw", raw), ("staged", staged)) if value is None]
    return f"cannot compare {what}: {' and '.join(sides) or 'a'} total is null"
