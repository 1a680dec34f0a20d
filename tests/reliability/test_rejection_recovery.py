"""After a rejection of each kind, the next good delivery of the partition goes live and resolves it (the
rejections themselves: test_bad_deliveries.py; a module of its own so that the two run side by side)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from tests.reliability.cases import REJECTED
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines, scaled, where, with_values
from tests.reliability.state import live_manifests, open_rejections, query
from tests.runs import DagRunFailed, load, loaded


def payer_cost(home, payer: str) -> Decimal:
    return query(home, "select sum(unblended_cost) from billing.daily_costs where payer_account_id = ?", [payer])[0][0]


def good_delivery(factor: int) -> pa.Table:
    """Payer 1's lines with every cost times `factor`, a column AWS added since (an extra column loads),
    and the first usage line on an account no customer has (it lands on `unassigned`, never dropped)."""
    table = scaled(raw_lines(PAYER_1, "legacy"), str(factor))
    table = table.append_column("line_item_new_aws_column", pa.array(["added by AWS"] * table.num_rows))
    accounts = table.column("line_item_usage_account_id").to_pylist()
    accounts[where(table, "Usage")[0]] = UNMAPPED
    return with_values(table, "line_item_usage_account_id", accounts)


UNMAPPED = "100000000099"


def unassigned(home) -> list[tuple]:
    sql = "select usage_account_id, unblended_cost, line_item_count from marts.unassigned_accounts"
    return query(home, sql, database="warehouse")


def test_after_each_kind_of_rejection_the_next_good_delivery_goes_live(home, monkeypatch):
    """One rejection per stage a delivery can be stopped at (manifest, incomplete, staging, gate), each
    followed by a good delivery with restated figures: it goes live and resolves the rejection."""
    monkeypatch.setenv("BILLFLOW_INCOMPLETE_GRACE_HOURS", "0")
    kinds = {case.name: case for case in REJECTED}
    assert payer_cost(home, PAYER_1) == Decimal("119.3300000000")  # the loaded month, by hand from tests/rawcur
    stopped_at = [
        ("path traversal in the id", "manifest"),
        ("a listed file missing past the grace period", "incomplete"),
        ("corrupt Parquet", "staging"),
        ("usage outside the period", "gate"),
    ]
    for number, (name, stage) in enumerate(stopped_at, start=2):
        kinds[name].land(home / "landing")
        with pytest.raises(DagRunFailed):
            load()
        assert [found for found, *_ in open_rejections(home)] == [stage]

        land_legacy(home / "landing", good_delivery(number), f"good-{number}")
        report = load()

        assert loaded(report) == [f"111111111111 2026-09 good-{number}"]
        assert open_rejections(home) == []
        assert live_manifests(home) == [(PAYER_1, f"good-{number}"), ("222222222222", "execution-1")]
        assert payer_cost(home, PAYER_1) == Decimal("119.33") * number
        assert unassigned(home) == [(UNMAPPED, Decimal("1.25") * number, 1)]
