"""The project's own generic data tests, rendered by dbt and run with `dbt show --inline` on DuckDB and on
PostgreSQL (the serving target of the embedded and the compose profile): a generic test passes when its
query returns no row, and each row it returns names what failed."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_money_macros import serving_target, show

__all__ = ["serving_target"]

# three rows: a is null once, b twice, c never
ROWS = (
    "(select 1 as a, cast(null as integer) as b, 'x' as c"
    " union all select cast(null as integer), cast(null as integer), 'y'"
    " union all select 3, 4, 'z') as rows_under_test"
)


def test_not_null_columns_returns_each_column_with_nulls_and_how_many(serving_target: Path) -> None:
    rows = show(serving_target, f'{{{{ test_not_null_columns("{ROWS}", ["a", "b", "c"]) }}}}')

    assert sorted((name, int(count)) for name, count in rows) == [("a", 1), ("b", 2)]


def test_not_null_columns_passes_when_no_listed_column_holds_a_null(serving_target: Path) -> None:
    assert show(serving_target, f'{{{{ test_not_null_columns("{ROWS}", ["c"]) }}}}') == []
