"""Publishing copies the warehouse marts (DuckDB) into the serving shadow (published_shadow), whole and to the cent,
on every serving adapter."""

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.serving.publish import publish_marts

MONEY = pa.decimal128(38, 10)
AMOUNT = pa.decimal128(18, 2)


def build_warehouse(path, invoice_total="30.00", billed_costs=("10.004", "19.996")):
    db = DuckDBDatabase(path)
    tables = {
        "daily_costs": pa.table(
            {
                "billing_period": [date(2026, 9, 1)] * len(billed_costs),
                "billed_cost": pa.array([Decimal(cost) for cost in billed_costs], MONEY),
            }
        ),
        "invoice_lines": pa.table(
            {"billing_period": [date(2026, 9, 1)], "amount": pa.array([Decimal(invoice_total)], AMOUNT)}
        ),
        "invoices": pa.table(
            {
                "billing_period": [date(2026, 9, 1)],
                "total_amount": pa.array([Decimal(invoice_total)], AMOUNT),
            }
        ),
    }
    db.replace_tables("marts", tables)
    db.close()


def test_publishing_twice_leaves_one_copy_with_the_same_totals(tmp_path, serving):
    build_warehouse(tmp_path / "w.duckdb")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)

    first = publish_marts(warehouse, serving)
    second = publish_marts(warehouse, serving)

    assert first == second
    assert second.rows == {"daily_costs": 2, "invoice_lines": 1, "invoices": 1}
    assert second.billing_periods == ["2026-09"]
    assert serving.fetch_all("select sum(billed_cost) from published_shadow.daily_costs") == [
        (Decimal("30.0000000000"),)
    ]
    assert (
        str(serving.fetch_arrow("select * from published_shadow.daily_costs").schema.field("billed_cost").type)
        == "decimal128(38, 10)"
    )
    warehouse.close()


def test_a_new_publication_replaces_the_old_figures(tmp_path, serving):
    build_warehouse(tmp_path / "w.duckdb", "30.00")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)
    publish_marts(warehouse, serving)
    warehouse.close()
    build_warehouse(tmp_path / "w.duckdb", "31.00")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)

    publish_marts(warehouse, serving)

    assert serving.fetch_all("select total_amount from published_shadow.invoices") == [(Decimal("31.00"),)]
    warehouse.close()


# 28 integer digits is the most a decimal(38, 10) holds; the smallest step is 1e-10
EXTREME_COSTS = (
    "123456789012345678901234567.1234567891",
    "-0.0000000001",
    "0.3333333333",
    "-98765432109876543210987654.9876543210",
)


def test_decimals_keep_their_precision_and_type_through_the_copy(tmp_path, serving):
    build_warehouse(tmp_path / "w.duckdb", "9999999999999999.99", EXTREME_COSTS)
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)

    publish_marts(warehouse, serving)

    assert serving.fetch_all("select billed_cost from published_shadow.daily_costs order by billed_cost") == [
        (Decimal(cost),) for cost in sorted(EXTREME_COSTS, key=Decimal)
    ]
    assert serving.fetch_all("select sum(billed_cost) from published_shadow.daily_costs") == [
        (Decimal("24691356902469135690246912.4691358013"),)
    ]
    assert serving.fetch_all("select total_amount from published_shadow.invoices") == [
        (Decimal("9999999999999999.99"),)
    ]
    assert serving.fetch_all(
        "select column_name, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'published_shadow' and column_name in ('billed_cost', 'amount', 'total_amount') "
        "order by column_name"
    ) == [("amount", 18, 2), ("billed_cost", 38, 10), ("total_amount", 18, 2)]
    copied = serving.fetch_arrow("select * from published_shadow.daily_costs order by billed_cost")
    assert copied.schema.field("billed_cost").type == MONEY
    assert copied.schema.field("billing_period").type == pa.date32()
    assert copied.column("billed_cost").to_pylist() == [Decimal(cost) for cost in sorted(EXTREME_COSTS, key=Decimal)]
    warehouse.close()


def test_an_empty_mart_is_published_with_its_column_types(tmp_path, serving):
    db = DuckDBDatabase(tmp_path / "w.duckdb")
    empty_money = pa.array([], MONEY)
    db.replace_tables(
        "marts",
        {
            "daily_costs": pa.table({"billing_period": pa.array([], pa.date32()), "billed_cost": empty_money}),
            "invoice_lines": pa.table({"billing_period": pa.array([], pa.date32()), "amount": pa.array([], AMOUNT)}),
            "invoices": pa.table({"billing_period": pa.array([], pa.date32()), "total_amount": pa.array([], AMOUNT)}),
        },
    )
    db.close()
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)

    result = publish_marts(warehouse, serving)

    assert result.rows == {"daily_costs": 0, "invoice_lines": 0, "invoices": 0}
    assert result.billing_periods == []
    empty = serving.fetch_arrow("select * from published_shadow.invoices")
    assert empty.num_rows == 0
    assert empty.schema.field("total_amount").type == AMOUNT
    warehouse.close()


def test_a_failed_publication_leaves_the_previous_copy_in_place(tmp_path, serving):
    build_warehouse(tmp_path / "w.duckdb", "30.00")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)
    publish_marts(warehouse, serving)
    warehouse.close()
    restated = pa.table({"billing_period": [date(2026, 9, 1)], "total_amount": pa.array([Decimal("31.00")], AMOUNT)})
    floats = pa.table({"billing_period": [date(2026, 9, 1)], "amount": pa.array([31.0], pa.float64())})

    # invoices is dropped and re-created first; the float money column then fails in the same transaction
    with pytest.raises(TypeError, match="money must be decimal"):
        serving.replace_tables("published", {"invoices": restated, "invoice_lines": floats})

    assert serving.fetch_all("select total_amount from published_shadow.invoices") == [(Decimal("30.00"),)]
    assert serving.fetch_all("select amount from published_shadow.invoice_lines") == [(Decimal("30.00"),)]
