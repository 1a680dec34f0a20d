"""What only the warehouse, the serving build or the close can see: a re-delivery that fails a warehouse test
never goes live (nor does anything released with it), and a restatement of a locked month leaves every
locked invoice as it was."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.reliability.deliveries import PAYER_1, PAYER_2, final, land_cur2, land_legacy, raw_lines, scaled
from tests.reliability.state import leftovers, live_manifests, query, state
from tests.runs import DagRunFailed, close, load, loaded

# Stands for any warehouse test a new delivery can fail (the staging gate passed it): dbt builds and tests
# the candidate warehouse, and this test fails on the rows of the delivery `poisoned-2` only.
POISON_TEST = """{{ config(tags=["warehouse"]) }}
select manifest_id, count(*) as staged_rows
from {{ ref('stg_cur__daily_costs') }}
where manifest_id = 'poisoned-2'
group by manifest_id
"""


def add_warehouse_test(project: Path, name: str, sql: str) -> None:
    """Give the linked project (billflow.rules.project_with_rules) a test folder of its own with one more test."""
    linked = project / "tests"
    original = linked.resolve()
    linked.unlink()
    linked.mkdir()
    for entry in original.iterdir():
        (linked / entry.name).symlink_to(entry)
    (linked / "injected").mkdir()
    (linked / "injected" / f"{name}.sql").write_text(sql)


def test_a_redelivery_that_fails_a_warehouse_test_leaves_everything_live_as_it_was(home):
    add_warehouse_test(home / "dbt_project", "assert_no_poisoned_delivery", POISON_TEST)
    before = state(home)
    land_legacy(home / "landing", scaled(raw_lines(PAYER_1, "legacy"), "2"), "poisoned-2")
    land_cur2(home / "landing", scaled(raw_lines(PAYER_2, "cur2"), "3"), "execution-2")
    landed = state(home)["landing"]

    with pytest.raises(DagRunFailed) as failed:
        load()

    errors = failed.value.outcome.errors
    assert errors["dbt_build_warehouse"] == (
        "dbt build of warehouse (tag:warehouse on warehouse) failed: ['assert_no_poisoned_delivery: fail Got 1 "
        "result, configured to fail if != 0 (poisoned-2 11)']"  # the test's row: its 11 staged rows
    )
    assert errors["finish_load"].startswith("release ") and errors["finish_load"].endswith(
        " did not go live: a check failed (see the failed task)"
    )
    after = state(home)
    assert after.pop("landing") == landed
    before.pop("landing")
    assert after == before  # neither the failing delivery nor the one built with it went live
    assert leftovers(home) == []

    land_legacy(home / "landing", scaled(raw_lines(PAYER_1, "legacy"), "4"), "good-3")
    report = load()

    assert loaded(report) == ["111111111111 2026-09 good-3", "222222222222 2026-09 execution-2"]
    assert live_manifests(home) == [(PAYER_1, "good-3"), (PAYER_2, "execution-2")]


def locked(home: Path) -> dict[str, list[tuple]]:
    return {
        "locks": query(home, "select * from billing_control.invoice_locks order by all"),
        "lines": query(home, "select * from billing_control.locked_invoice_lines order by all"),
        "final": query(
            home,
            "select customer_id, invoice_number, total_amount, line_count from billing.invoices "
            "where status = 'final' order by 1",
        ),
        "final_lines": query(
            home,
            "select * exclude (amortized_cost, adjustment_pct, billed_cost) from billing.invoice_lines "
            "where status = 'final' order by all",
        ),
    }


def test_a_restatement_of_a_locked_month_changes_no_locked_invoice(home):
    frozen = locked(home)
    # the loaded month (tests/reliability/conftest.py): September of both payers, its invoices locked
    assert [(customer, number) for customer, number, *_ in frozen["final"]] == [
        ("acme", "BF-202609-0001"),
        ("initech", "BF-202609-0002"),
        ("umbrella", "BF-202609-0003"),
    ]

    land_legacy(home / "landing", final(scaled(raw_lines(PAYER_1, "legacy"), "2")), "restated-2")
    load()
    close(as_of=date(2026, 10, 16))

    assert locked(home) == frozen
    [(published, total)] = query(
        home, "select published_total_amount, total_amount from billing.invoices where customer_id = 'acme'"
    )
    [pending] = query(home, "select count(*), sum(amount) from billing.pending_adjustments where customer_id = 'acme'")
    assert published != total  # the restated figures are published beside the locked ones...
    assert pending[0] > 0 and pending[1] == published - total  # ...and wait, whole, for acme's next invoice
    assert Decimal(total) == Decimal(frozen["final"][0][2])
