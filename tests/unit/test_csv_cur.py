"""A CUR CSV's money columns go from text straight to decimal128(38, 10): exact, or refused with where and why."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billflow_dev.csv_cur import csv_to_parquet

HEADER = [
    "identity/LineItemId",
    "bill/PayerAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "pricing/publicOnDemandCost",
]
MONEY = ["line_item_usage_amount", "line_item_unblended_cost", "pricing_public_on_demand_cost"]


def write_csv(path: Path, costs: list[str]) -> Path:
    """One Usage line per unblended cost; usage amount 1 and on-demand cost 2.5 on every line."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number, cost in enumerate(costs):
            writer.writerow([f"line-{number}", "000123456789", "Usage", "2026-09-01T00:00:00Z", "1", cost, "2.5"])
    return path


def test_money_is_read_exactly_where_a_float_would_change_the_digits(tmp_path: Path) -> None:
    costs = [
        "0.1000000001",
        "12345678.1234567891",  # 18 significant digits: a double keeps about 16
        "-0.0000000001",
        "1E-10",
        "9.984E-7",  # exponents as AWS writes them
        "7.0E-10",  # 11 decimals written, 10 of them significant
        "1.50000000000",
        "123456789012345678.1234567891",
        "",  # empty: none
    ]
    parquet = tmp_path / "cur.parquet"

    assert csv_to_parquet(write_csv(tmp_path / "cur.csv", costs), parquet) == len(costs)

    table = pq.read_table(parquet)
    assert {name: table.schema.field(name).type for name in MONEY} == dict.fromkeys(MONEY, pa.decimal128(38, 10))
    assert table.column("line_item_unblended_cost").to_pylist() == [
        Decimal("0.1000000001"),
        Decimal("12345678.1234567891"),
        Decimal("-0.0000000001"),
        Decimal("0.0000000001"),
        Decimal("0.0000009984"),
        Decimal("0.0000000007"),
        Decimal("1.5"),
        Decimal("123456789012345678.1234567891"),
        None,
    ]
    assert str(table.column("line_item_unblended_cost")[1].as_py()) == "12345678.1234567891"
    assert set(table.column("pricing_public_on_demand_cost").to_pylist()) == {Decimal("2.5")}


def test_timestamps_and_other_columns_keep_their_types(tmp_path: Path) -> None:
    parquet = tmp_path / "cur.parquet"
    csv_to_parquet(write_csv(tmp_path / "cur.csv", ["1"]), parquet)

    row = pq.read_table(parquet).to_pylist()[0]
    assert row["line_item_usage_start_date"] == datetime(2026, 9, 1)
    assert row["bill_payer_account_id"] == "000123456789"  # ids keep their leading zeros
    assert row["line_item_line_item_type"] == "Usage"
    assert pq.read_schema(parquet).field("line_item_usage_start_date").type == pa.timestamp("ms")


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("abc", "is not a number"),
        ("NaN", "is not a number"),
        (" 1.5", "is not a number"),
        ("1,5", "is not a number"),
        ("1_000", "is not a number"),
        ("1.5.1", "is not a number"),
        ("-", "is not a number"),
        ("0.12345678901", r"has more than 10 decimals: decimal\(38, 10\) would round it"),
        ("1.0E-11", "has more than 10 decimals"),
        ("-0.00000000005", "has more than 10 decimals"),
        ("123456789012345678901234567890", r"does not fit decimal\(38, 10\) \(more than 28 digits before the point\)"),
    ],
)
def test_a_value_that_is_not_exact_money_is_refused_with_file_column_row_and_value(
    tmp_path: Path, bad: str, why: str
) -> None:
    source = write_csv(tmp_path / "cur.csv", ["1.25", "", bad, "0.5"])

    with pytest.raises(ValueError) as refused:
        csv_to_parquet(source, tmp_path / "cur.parquet")

    message = str(refused.value)
    assert message.startswith(f"{source}: column 'lineItem/UnblendedCost', data row 3: {bad!r} ")
    assert re.search(why, message), message
    assert not (tmp_path / "cur.parquet").exists()


def test_the_first_bad_row_is_named_among_many(tmp_path: Path) -> None:
    costs = ["0.01"] * 5000 + ["0.010000000001"] + ["0.01"] * 100 + ["oops"]
    source = write_csv(tmp_path / "cur.csv", costs)

    with pytest.raises(ValueError, match=r"data row 5001: '0\.010000000001' has more than 10 decimals"):
        csv_to_parquet(source, tmp_path / "cur.parquet")
