"""Bad deliveries cannot damage what is loaded: each case re-delivers payer 1's loaded September in a bad
shape. The run fails naming the manifest and the cause, and the ledger, staged versions, warehouse marts,
serving tables and locked invoices are exactly as they were (compared row by row), the landing zone is only
read, and the partition still takes the next good delivery (sensed and staged here; that it passes its gate
and goes live after a rejection at each stage: test_rejection_recovery.py)."""

from __future__ import annotations

import pytest

from billflow.config import load_settings
from billflow.orchestration import steps
from tests.reliability.cases import REJECTED, Case
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines
from tests.reliability.state import leftovers, open_rejections, state
from tests.runs import DagRunFailed, load

MANIFEST = "111111111111/cur/20260901-20261001/cur-Manifest.json"
DATA = "111111111111/cur/cur/year=2026/month=9/cur-00001.snappy.parquet"
ID_RULE = "1 to 128 letters, digits, '-' or '_', starting with a letter or digit"
CANNOT_STAGE = f"cannot stage payer 111111111111, period 2026-09, manifest {MANIFEST}:"
GATE_FAILED = "staging gate failed for payer 111111111111, period 2026-09"

# case -> (stage, reason recorded for the operator), written out by hand
EXPECTED: dict[str, tuple[str, str]] = {
    "bad JSON": ("manifest", f"{MANIFEST}: manifest is not valid JSON (Expecting value at line 1)"),
    "a manifest without its id": ("manifest", f"{MANIFEST}: manifest has no 'assemblyId'"),
    "billingPeriod given as a string": (
        "manifest",
        f"{MANIFEST}: billingPeriod must be an object with 'start' and 'end', not string: '20260901T000000.000Z'",
    ),
    "a report key that is not a string": (
        "manifest",
        f"{MANIFEST}: reportKeys entry 1 must be a string, not number: 7",
    ),
    "path traversal in the id": ("manifest", f"{MANIFEST}: assemblyId 'x/../..' is not a valid manifest id: {ID_RULE}"),
    "a key outside the delivery's prefix": (
        "manifest",
        f"{MANIFEST}: reportKeys entry '../222222222222/cur/cur/year=2026/month=9/cur-00001.snappy.parquet' "
        "is not a valid object key: it has a '..' segment",
    ),
    "quotes and semicolons in the id": (
        "manifest",
        f'{MANIFEST}: assemblyId "a\';drop table x;--" is not a valid manifest id: {ID_RULE}',
    ),
    "a quote in the report name": (
        "manifest",
        "111111111111/cur'x/20260901-20261001/cur'x-Manifest.json: report folder \"cur'x\" is not accepted: a report "
        "name is 1 to 128 letters, digits, '.', '-' or '_', starting with a letter or digit, without '..'; "
        "rename the report",
    ),
    "a listed file missing past the grace period": (
        "incomplete",
        f"1 of 1 listed data files are not there (e.g. {DATA}) 0.0 hours after the manifest was written "
        "(grace period 0 h)",
    ),
    "corrupt Parquet": (
        "staging",
        f"{CANNOT_STAGE}\n  - file {DATA}: not a readable Parquet file (Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.)",
    ),
    "a missing required column": (
        "staging",
        f"{CANNOT_STAGE}\n  - file {DATA} lacks the required column line_item_line_item_type",
    ),
    "a non-numeric cost": (
        "staging",
        f"{CANNOT_STAGE}\n  - file {DATA}: 1 value of line_item_unblended_cost is not a number (e.g. '1,25')",
    ),
    "an empty delivery": (
        "gate",
        f"{GATE_FAILED}: 2 failures in 45 checks:\n"
        "  - staged partition is empty (0 rows)\n"
        "  - nothing to reconcile: raw totals and staged partition are both empty",
    ),
    "duplicate line items": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        "  - 1 line item occurs more than once (same identity_line_item_id and identity_time_interval), 2 lines "
        f"in all, in file {DATA} (e.g. 'li-01' 2026-09-01T10:00:00Z/2026-09-01T11:00:00Z (2 lines))",
    ),
    "lines of another payer": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        "  - 11 rows with payer_account_id != '111111111111' (e.g. '222222222222')",
    ),
    "a usage account that is not an account id": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        "  - 1 row with a usage_account_id not like ^[0-9]{12,13}$ (e.g. '1000-0000-0001')",
    ),
    "mixed currency": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        f"  - 2 currencies in one delivery: 'EUR' (1 line in file {DATA}), 'USD' (11 lines in file {DATA})",
    ),
    "negative usage": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        f"  - file {DATA}: 1 Usage line with a negative line_item_usage_amount (e.g. 'li-02' -3.0)",
    ),
    "usage outside the period": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        "  - 1 row with usage_date outside 2026-09-01..2026-09-30 (e.g. 2026-10-02)",
    ),
    "an unknown line item type": (
        "gate",
        f"{GATE_FAILED}: 1 failures in 45 checks:\n"
        f"  - file {DATA}: unknown line item type 'PromotionalCredit' (1 line): "
        "declare it in dbt_project/seeds/line_item_types.csv",
    ),
}


@pytest.mark.parametrize("case", REJECTED, ids=[case.name for case in REJECTED])
def test_a_bad_redelivery_is_rejected_by_name_and_changes_nothing_that_is_loaded(home, case: Case, monkeypatch):
    monkeypatch.setenv("BILLFLOW_INCOMPLETE_GRACE_HOURS", "0")
    stage, reason = EXPECTED[case.name]
    before = state(home)
    key = case.land(home / "landing")
    landed = state(home)["landing"]

    with pytest.raises(DagRunFailed) as failed:
        load()

    after = state(home)
    assert after.pop("landing") == landed  # the raw files are only read
    before.pop("landing")
    assert after == before
    assert leftovers(home) == []
    assert open_rejections(home) == [(stage, key, case.manifest_id, reason)]
    where = " (payer 111111111111, 2026-09)" if case.manifest_id else ""
    shown = reason.removeprefix(f"{key}: ")
    errors = failed.value.outcome.errors
    assert (
        errors["finish_load"] == f"1 deliveries are not loaded and need attention:\n  - [{stage}] {key}{where}: {shown}"
    )

    # the partition takes the next good delivery: it is sensed and staged (gated and released after a
    # rejection at each stage: test_rejection_recovery.py)
    land_legacy(home / "landing", raw_lines(PAYER_1, "legacy"), "assembly-3")
    settings = load_settings()
    sensed = steps.sense(settings)
    assert [(d.payer_account_id, d.manifest_id) for d in sensed.to_load] == [(PAYER_1, "assembly-3")]
    candidate = steps.stage_partition(settings, sensed.to_load[0])
    assert (candidate.raw_rows, candidate.staged_rows) == (12, 11)
