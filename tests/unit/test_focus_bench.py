"""bench-focus's own figures: cents, the BilledCost comparison, the ratio and the table (no focus-converter needed)."""

from decimal import Decimal

from billflow_dev.focus_bench import ToolFigure, compare_billed_cost, exact_float_sum, format_table, ratio, to_cents


def test_amounts_become_whole_cents_half_to_even():
    assert to_cents(Decimal("3011007.3403554600")) == 301100734
    assert to_cents(Decimal("0.125")) == 12  # half to even: 12.5 cents -> 12
    assert to_cents(Decimal("0.135")) == 14  # 13.5 -> 14
    assert to_cents(Decimal("-2.5050000001")) == -251
    # a float goes through its shortest repr: 0.125 is exact, 1.005 reads as 1.005 (not 1.00499999999999989...)
    assert to_cents(0.125) == 12
    assert to_cents(1.005) == 100
    assert to_cents(3011007.34035546) == 301100734
    assert to_cents(7) == 700


def test_billed_cost_totals_are_compared_to_the_cent():
    assert compare_billed_cost(Decimal("3011007.3403554600"), 3011007.34035546) == (True, 0)
    # 100.004 and 99.996 both round to 100.00
    assert compare_billed_cost(Decimal("100.004"), 99.996) == (True, 0)
    assert compare_billed_cost(Decimal("100.01"), 99.99) == (False, 2)
    assert compare_billed_cost(Decimal("-5.00"), -4.97) == (False, -3)


def test_a_million_float_cents_sum_exactly():
    # 0.1 is not a double: a naive running sum of a million of them drifts, fsum does not
    values = [0.1] * 1_000_000
    assert exact_float_sum(values) == 100000.0
    assert to_cents(exact_float_sum(values)) == 10_000_000


def test_ratio_and_table():
    converter = ToolFigure("focus-converter", 5.0, 1_000_000, 1_000_000, 2.0, 9.25)  # 200,000 lines/s
    billflow = ToolFigure("billflow", 2.0, 1_000_000, 40_000, 1.5, 3.0)  # 500,000 lines/s

    assert converter.lines_per_second == 200_000
    assert billflow.lines_per_second == 500_000
    assert ratio(billflow, converter) == 2.5
    assert ratio(converter, converter) == 1.0
    assert format_table([converter, billflow], converter).splitlines() == [
        "tool             seconds  input lines/s  output rows  ratio start-up s   cpu s",
        "-" * 78,  # 15 + 1 + 8 + 1 + 14 + 1 + 12 + 1 + 6 + 1 + 10 + 1 + 7
        "focus-converter     5.00        200,000    1,000,000   1.00       2.00    9.25",
        "billflow            2.00        500,000       40,000   2.50       1.50    3.00",
    ]


def test_a_figure_without_start_up_and_cpu_leaves_their_columns_empty():
    baseline = ToolFigure("a", 4.0, 1_000, 1_000)
    line = format_table([baseline], baseline).splitlines()[2]
    # the tool column is as wide as its header: "a" + 3 spaces, then the columns of widths 8, 14, 12, 6, 10, 7
    assert line == "a" + " " * 8 + "4.00" + " " * 12 + "250" + " " * 8 + "1,000" + " " * 3 + "1.00" + " " * 19
