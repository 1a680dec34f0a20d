"""The project's own generic data tests, rendered by dbt and run with `dbt show --inline` on DuckDB and on
PostgreSQL (the serving target of the embedded and the compose profile): a generic test passes when its
query returns no row, and each row it returns names what failed."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_money_macros import serving_target, show

__all__ = ["serving_target"]

# four rows (a, b, c): (1, null, 'x'), (null, null, 'y'), (3, 4, 'z'), (3, 5, 'z')
ROWS = (
    "(select 1 as a, cast(null as integer) as b, 'x' as c"
    " union all select cast(null as integer), cast(null as integer), 'y'"
    " union all select 3, 4, 'z'"
    " union all select 3, 5, 'z') as rows_under_test"
)
# the parent of column a: its only id is 1
PARENT = "(select 1 as id) as parent_rows"


def row_checks(**arguments: object) -> str:
    rendered = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return f'{{{{ test_row_checks("{ROWS}", {rendered}) }}}}'


def test_row_checks_returns_each_broken_check_and_how_many_rows_break_it(serving_target: Path) -> None:
    sql = row_checks(
        not_null=["a", "b", "c"],
        accepted_values={"c": ["x", "y"], "a": [1, 3]},
        expressions={"a_below_3": "a < 3"},
        unique=[["c"], ["a"], ["b"], ["a", "b"]],
        relationships=[{"column": "a", "to": PARENT, "field": "id"}],
    )

    rows = show(serving_target, sql)

    # by hand from the four rows: b null twice; c 'z' twice outside x, y; a = 3 twice breaks a < 3 and has
    # no parent; c 'z' and a 3 are duplicated keys (one each); b's nulls are skipped and (a, b) is unique
    assert sorted((check, int(count)) for check, count in rows) == [
        ("accepted_values(c)", 2),
        ("expression(a_below_3)", 2),
        ("not_null(a)", 1),
        ("not_null(b)", 2),
        ("relationship(a -> (select 1 as id) as parent_rows.id)", 2),
        ("unique(a)", 1),
        ("unique(c)", 1),
    ]


def test_row_checks_passes_when_every_check_holds(serving_target: Path) -> None:
    sql = row_checks(
        not_null=["c"],
        accepted_values={"c": ["x", "y", "z"]},
        expressions={"a_positive": "a > 0"},
        unique=[["b"], ["a", "b"]],
        relationships=[{"column": "b", "to": "(select 4 as id union all select 5) as parents", "field": "id"}],
    )

    assert show(serving_target, sql) == []


def test_row_checks_quotes_accepted_strings_and_leaves_numbers_and_booleans_as_they_are(serving_target: Path) -> None:
    rows = show(
        serving_target,
        "select {{ row_checks_literal(\"it's\") }} || ' ' || cast({{ row_checks_literal(3) }} as varchar(8))"
        " || ' ' || cast({{ row_checks_literal(true) }} as varchar(8)) as literals",
    )
    assert rows == [("it's 3 true",)]
