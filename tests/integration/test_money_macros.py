"""The money macros give the same digits on DuckDB and PostgreSQL (the engine of the Redshift dialect family).

Each expression is rendered by dbt and run with `dbt show --inline` on the serving target of the embedded
profile (DuckDB) and of the compose profile (a throw-away PostgreSQL): shares, ratios, conversions and
rounding to a currency's minor unit must not depend on the engine an invoice is computed on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from billflow.config import DBT_PROJECT_DIR
from billflow.warehouse.dbt import invoke_dbt
from tests.conftest import reused_home

# (expression, exact result): amount x part / whole rounded half away from zero to 10 decimals, worked out
# with Python's Decimal at 80 digits
SHARE_CASES = [
    ("share_of('100', '1', '3')", "33.3333333333"),
    ("share_of('100', '2', '3')", "66.6666666667"),
    ("share_of('-100', '2', '3')", "-66.6666666667"),
    ("share_of('100', '-2', '3')", "-66.6666666667"),
    ("share_of('100', '2', '-3')", "-66.6666666667"),
    ("share_of('200.0000000001', '120', '600')", "40.0000000000"),
    # exact ties at the 11th decimal: 25.00000000005 and -25.00000000005, 0.00000000015
    ("share_of('100.0000000002', '25', '100')", "25.0000000001"),
    ("share_of('-100.0000000002', '25', '100')", "-25.0000000001"),
    ("share_of('0.0000000003', '1', '2')", "0.0000000002"),
    ("share_of('100.0000000002', '15', '100')", "15.0000000000"),
    ("share_of('0.0000000001', '1', '3')", "0.0000000000"),
    ("share_of('0', '5', '7')", "0.0000000000"),
    # the largest values the Redshift construction takes (|amount| < 1e7, |part| <= |whole| < 1e8)
    ("share_of('9999999.9999999999', '12345678.1234567891', '87654321.9876543219')", "1408450.5867486622"),
    ("share_of('1234567.8912345678', '12345678.1234567891', '87654321.9876543219')", "173882.7870790386"),
]

# (expression, exact result)
CASES = [
    # pro-rata shares are rounded half away from zero at the 10th decimal on every engine (the remainder
    # goes to one share)
    *SHARE_CASES,
    # a ratio (tag shares) is rounded half away from zero at the 10th decimal
    ("ratio('2', '3')", "0.6666666667"),
    ("ratio('-1', '3')", "-0.3333333333"),
    # conversion keeps ten decimals; rounding to the minor unit is half away from zero
    ("convert_at_rate('10.005', '1392.10000000')", "13927.9605000000"),
    ("convert_at_rate('33.3333333334', '1392.1')", "46403.3333334261"),
    ("round_to_minor_unit('13927.9605', '0')", "13928.00"),
    ("round_to_minor_unit('-37.5', '0')", "-38.00"),
    ("round_to_minor_unit('0.125', '2')", "0.13"),
    ("round_to_minor_unit('-0.125', '2')", "-0.13"),
    ("round_to_minor_unit('0.1249999999', '2')", "0.12"),
    ("percent_of('110818', '10.0000')", "11081.8000000000"),
    ("apply_adjustment_pct('1.2345678901', '5.0000')", "1.2962962846"),
]


@pytest.fixture(params=["duckdb", "postgres"])
def serving_target(
    request, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The profiles folder whose serving target is the engine under test, with a home at one path per engine
    and test worker (dbt reuses its parse there: `dbt show` creates nothing)."""
    use_show_home(tmp_path_factory, request.param, monkeypatch)
    monkeypatch.delenv("BILLFLOW_SERVING_PATH", raising=False)
    if request.param == "duckdb":
        yield DBT_PROJECT_DIR / "profiles" / "embedded"
        return
    yield postgres_profiles(request.getfixturevalue("postgres_server"), monkeypatch)


def use_show_home(tmp_path_factory: pytest.TempPathFactory, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLFLOW_HOME", str(reused_home(tmp_path_factory, f"dbt-show-{engine}")))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def postgres_profiles(server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The compose profiles, their serving target pointed at the throw-away server's database for `dbt show`
    (one per test session: the queries create nothing, and the same profile lets dbt reuse its parse)."""
    settings = {
        "HOST": server.host,
        "PORT": str(server.port),
        "USER": server.user,
        "PASSWORD": "trusted",
        "DBNAME": server.scratch_database(),
        "SSLMODE": "disable",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"BILLFLOW_PG_{name}", value)
    return DBT_PROJECT_DIR / "profiles" / "compose"


def show(profiles: Path, sql: str) -> list[tuple]:
    """`dbt show --inline` of `sql` on the serving target of `profiles`, from the home in BILLFLOW_HOME."""
    root = Path(os.environ["BILLFLOW_HOME"])
    result = invoke_dbt(
        [
            "show",
            "--inline",
            sql,
            "--target",
            "serving",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(profiles),
            "--target-path",
            str(root / "dbt-target"),
            "--log-path",
            str(root / "logs"),
            "--limit",
            "100",
            "--quiet",
        ]
    )
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    return [tuple(row) for row in table.rows]


def select_each(cases: list[tuple[str, str]]) -> str:
    columns = ",\n".join(
        f"cast({{{{ {expression} }}}} as varchar(64)) as c{i}" for i, (expression, _) in enumerate(cases)
    )
    return f"select\n{columns}"


def test_money_macros_give_the_same_exact_digits_on_each_engine(serving_target: Path) -> None:
    (row,) = show(serving_target, select_each(CASES))

    got = {expression: Decimal(value) for (expression, _), value in zip(CASES, row, strict=True)}
    expected = {expression: Decimal(value) for expression, value in CASES}
    assert got == expected
    # same digits, not just the same number: the scale is part of what reaches an invoice
    assert {e: str(v) for e, v in zip((e for e, _ in CASES), row, strict=True)} == dict(CASES)


def test_the_redshift_construction_of_shares_gives_the_same_digits(
    postgres_server, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redshift cannot run here: its share_of (a 19-decimal candidate corrected by exact products, no type wider
    than 38 digits) runs on PostgreSQL, whose products are exact and whose |part| / |whole| <= 1 keeps at least
    20 decimals, and must give the digits of the other engines."""
    use_show_home(tmp_path_factory, "postgres", monkeypatch)
    profiles = postgres_profiles(postgres_server, monkeypatch)
    redshift = [(e.replace("share_of(", "billflow.redshift__share_of("), value) for e, value in SHARE_CASES]

    (row,) = show(profiles, select_each(redshift))

    assert dict(zip((e for e, _ in redshift), row, strict=True)) == dict(redshift)
