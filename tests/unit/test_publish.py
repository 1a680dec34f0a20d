"""Publishing copies the warehouse marts into the serving database, whole and to the cent."""

from datetime import date
from decimal import Decimal

import pyarrow as pa
from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.serving.publish import publish_marts


def build_warehouse(path, invoice_total="30.00"):
    db = DuckDBDatabase(path)
    money = pa.decimal128(38, 10)
    tables = {
        "daily_costs": pa.table(
            {
                "billing_period": [date(2026, 9, 1)] * 2,
                "billed_cost": pa.array([Decimal("10.004"), Decimal("19.996")], money),
            }
        ),
        "invoice_lines": pa.table(
            {"billing_period": [date(2026, 9, 1)], "amount": pa.array([Decimal(invoice_total)], pa.decimal128(18, 2))}
        ),
        "invoices": pa.table(
            {
                "billing_period": [date(2026, 9, 1)],
                "total_amount": pa.array([Decimal(invoice_total)], pa.decimal128(18, 2)),
            }
        ),
    }
    db.replace_tables("marts", tables)
    db.close()


def test_publishing_twice_leaves_one_copy_with_the_same_totals(tmp_path):
    build_warehouse(tmp_path / "w.duckdb")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)
    serving = DuckDBDatabase(tmp_path / "s.duckdb")

    first = publish_marts(warehouse, serving)
    second = publish_marts(warehouse, serving)

    assert first == second
    assert second.rows == {"daily_costs": 2, "invoice_lines": 1, "invoices": 1}
    assert second.billing_periods == ["2026-09"]
    assert serving.fetch_all("select sum(billed_cost) from published.daily_costs") == [(Decimal("30.0000000000"),)]
    assert (
        str(serving.fetch_arrow("select * from published.daily_costs").schema.field("billed_cost").type)
        == "decimal128(38, 10)"
    )


def test_a_new_publication_replaces_the_old_figures(tmp_path):
    build_warehouse(tmp_path / "w.duckdb", "30.00")
    serving = DuckDBDatabase(tmp_path / "s.duckdb")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)
    publish_marts(warehouse, serving)
    warehouse.close()
    build_warehouse(tmp_path / "w.duckdb", "31.00")
    warehouse = DuckDBDatabase(tmp_path / "w.duckdb", read_only=True)

    publish_marts(warehouse, serving)

    assert serving.fetch_all("select total_amount from published.invoices") == [(Decimal("31.00"),)]
