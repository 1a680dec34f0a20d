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


def test_a_mart_larger_than_a_batch_streams_through_whole_and_to_the_cent(tmp_path, serving):
    # 250 rows of 0.0000000001 .. 0.0000000250 in batches of 100: 3 batches, sum 250*251/2 = 31375 units
    serving.replace_tables(
        "marts",
        {
            "daily_costs": pa.table(
                {
                    "n": pa.array(range(1, 251), pa.int64()),
                    "cost": pa.array([Decimal(n) / 10**10 for n in range(1, 251)], MONEY),
                }
            )
        },
    )

    reader = serving.stream_arrow("select n, cost from marts.daily_costs order by n", batch_rows=100)
    sizes, total, first_numbers = [], Decimal(0), []
    for batch in reader:
        sizes.append(batch.num_rows)
        total += sum(batch.column(1).to_pylist(), Decimal(0))
        first_numbers.append(batch.column(0)[0].as_py())

    assert sizes == [100, 100, 50]
    assert first_numbers == [1, 101, 201]
    assert total == Decimal("0.0000031375")
    assert str(reader.schema.field("cost").type) == "decimal128(38, 10)"
    # the database is usable as before once the stream is read (a PostgreSQL stream's transaction is over)
    with serving.transaction():
        serving.execute("delete from marts.daily_costs where n > 10")
    assert serving.fetch_all("select count(*) from marts.daily_costs") == [(10,)]


def test_a_warehouse_stream_into_replace_tables_copies_a_mart_batch_by_batch(tmp_path, serving):
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb")
    rows = pa.table(
        {"billing_period": [date(2026, 9, 1)] * 250, "billed_cost": pa.array([Decimal("0.01")] * 250, MONEY)}
    )
    warehouse.replace_tables("marts", {"daily_costs": rows})

    serving.replace_tables(
        "copied", {"daily_costs": warehouse.stream_arrow("select * from marts.daily_costs", batch_rows=100)}
    )

    assert serving.fetch_all("select count(*), sum(billed_cost) from copied.daily_costs") == [
        (250, Decimal("2.5000000000"))
    ]
    warehouse.close()
