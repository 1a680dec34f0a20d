"""The run lock, staged version pointers, rejections and the release transaction in the serving database:
the same assertions on every Database adapter (DuckDB in tests/unit/test_control.py, PostgreSQL in
tests/integration/test_postgres_serving.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from billflow.control.rejections import Problem, open_problems, record_problems, rejected_deliveries, resolve_gone
from billflow.control.release import LOAD, Release, commit_release, latest_release_id
from billflow.control.runlock import AnotherRunIsActive, Holder, acquire, check_held, read_lock, release
from billflow.control.versions import StagedVersion, live_versions, recorded_versions, versions_to_keep
from billflow.formats.manifest import Delivery
from billflow.serving.shadow import ShadowError
from billflow.staging.versions import VersionRef

SEPT, OCT = date(2026, 9, 1), date(2026, 10, 1)
PAYER = "111111111111"
T0 = datetime(2026, 10, 2, 6, 0)


def clock(*stamps: datetime):
    values = iter(stamps)
    return lambda: next(values)


# ---------------------------------------------------------------- run lock


def test_a_second_run_is_refused_while_the_first_holds_the_lock(serving):
    first, second = Holder.dag_run("cur_daily_load", "run-1"), Holder.dag_run("cur_monthly_close", "run-9")
    acquire(serving, first, timedelta(hours=12), now=clock(T0))

    with pytest.raises(AnotherRunIsActive) as refused:
        acquire(serving, second, timedelta(hours=12), now=clock(T0 + timedelta(minutes=5)))

    assert str(refused.value) == (
        "another load is running: the run lock is held by dag:cur_daily_load:run-1 since 2026-10-02 06:00:00 UTC "
        "(lease until 2026-10-02 18:00:00 UTC); wait for it to finish"
    )
    assert read_lock(serving).holder == "dag:cur_daily_load:run-1"


def test_the_lock_is_free_again_once_its_holder_gives_it_back(serving):
    first, second = Holder.dag_run("cur_daily_load", "run-1"), Holder.dag_run("cur_monthly_close", "run-9")
    acquire(serving, first, now=clock(T0))

    assert release(serving, second) is False  # never frees another holder's lock
    assert release(serving, first) is True
    acquire(serving, second, now=clock(T0 + timedelta(minutes=1)))

    assert read_lock(serving).holder == "dag:cur_monthly_close:run-9"
    check_held(serving, second)
    with pytest.raises(AnotherRunIsActive):
        check_held(serving, first)


def test_a_run_of_the_same_dag_takes_over_a_lock_its_ended_predecessor_kept(serving):
    acquire(serving, Holder.dag_run("cur_daily_load", "killed-run"), now=clock(T0))

    acquire(serving, Holder.dag_run("cur_daily_load", "next-run"), now=clock(T0 + timedelta(hours=1)))

    assert read_lock(serving).holder == "dag:cur_daily_load:next-run"


def test_an_expired_lease_is_taken_over(serving):
    acquire(serving, Holder.dag_run("cur_monthly_close", "on-a-dead-worker"), timedelta(hours=1), now=clock(T0))
    with pytest.raises(AnotherRunIsActive):
        acquire(serving, Holder.dag_run("cur_daily_load", "r"), now=clock(T0 + timedelta(minutes=59)))

    acquire(serving, Holder.dag_run("cur_daily_load", "r"), now=clock(T0 + timedelta(minutes=61)))

    assert read_lock(serving).holder == "dag:cur_daily_load:r"


# ---------------------------------------------------------------- releases


def version(payer: str, period: date, stamp: str, manifest: str) -> VersionRef:
    return VersionRef(payer, period, f"{stamp}Z-{manifest}")


def staged(ref: VersionRef, cost: str = "12.50", final: bool = False) -> StagedVersion:
    return StagedVersion(
        ref, ref.manifest_id, f"{ref.payer_account_id}/r/m.json", "legacy", 10, 4, Decimal(cost), final
    )


def delivery_of(ref: VersionRef) -> Delivery:
    return Delivery(
        ref.payer_account_id,
        ref.billing_period,
        ref.manifest_id,
        "legacy",
        "r",
        f"{ref.payer_account_id}/r/m.json",
        ("s3://b/k",),
    )


def shadow_invoices(serving, total: str) -> None:
    amount = pa.array([Decimal(total)], pa.decimal128(18, 2))
    serving.replace_tables("published_shadow", {"invoices": pa.table({"billing_period": [SEPT], "total": amount})})
    serving.replace_tables("billing_shadow", {"invoices": pa.table({"customer_id": ["acme"], "total": amount})})


def release_of(release_id: str, *refs: VersionRef) -> Release:
    return Release(release_id, "run", LOAD, tuple(staged(r) for r in refs), tuple(delivery_of(r) for r in refs))


def test_a_release_switches_the_live_version_ledger_and_serving_tables_together(serving):
    v1 = version(PAYER, SEPT, "20261001T060000000000", "m-1")
    v2 = version(PAYER, SEPT, "20261002T060000000000", "m-2")
    shadow_invoices(serving, "10.00")
    commit_release(serving, release_of("r20261001T060000000000Z", v1), now=T0)
    shadow_invoices(serving, "12.00")

    commit_release(serving, release_of("r20261002T060000000000Z", v2), now=T0 + timedelta(days=1))

    assert live_versions(serving) == [v2]
    assert [(r.version, r.released_in, r.retired_in) for r in recorded_versions(serving)] == [
        (v1, "r20261001T060000000000Z", "r20261002T060000000000Z"),
        (v2, "r20261002T060000000000Z", None),
    ]
    assert serving.fetch_all("select manifest_id from billing_control.load_ledger order by 1") == [("m-1",), ("m-2",)]
    assert serving.fetch_all("select total from billing.invoices") == [(Decimal("12.00"),)]
    assert serving.fetch_all("select total from published.invoices") == [(Decimal("12.00"),)]
    assert latest_release_id(serving, LOAD) == "r20261002T060000000000Z"


def test_a_release_that_cannot_swap_the_serving_shadow_changes_nothing(serving):
    v1 = version(PAYER, SEPT, "20261001T060000000000", "m-1")
    shadow_invoices(serving, "10.00")
    commit_release(serving, release_of("r20261001T060000000000Z", v1), now=T0)
    serving.execute("drop table billing_shadow.invoices")  # as if the serving build failed half-way

    with pytest.raises(ShadowError, match="billing_shadow is empty"):
        commit_release(
            serving, release_of("r20261002T060000000000Z", version(PAYER, SEPT, "20261002T060000000000", "m-2"))
        )

    assert live_versions(serving) == [v1]
    assert serving.fetch_all("select manifest_id from billing_control.load_ledger") == [("m-1",)]
    assert serving.fetch_all("select total from billing.invoices") == [(Decimal("10.00"),)]
    assert latest_release_id(serving) == "r20261001T060000000000Z"


def test_replaced_versions_are_kept_up_to_the_retention_and_those_an_invoice_lock_used_for_ever(serving):
    refs = [version(PAYER, SEPT, f"2026100{day}T060000000000", f"m-{day}") for day in range(1, 6)]
    for day, ref in enumerate(refs, start=1):
        shadow_invoices(serving, "10.00")
        commit_release(serving, release_of(f"r2026100{day}T060000000000Z", ref), now=T0)
        if day == 2:  # an invoice locked while version 2 was live
            serving.execute(
                "insert into billing_control.invoice_locks (customer_id, billing_period, invoice_number, "
                "currency_code, total_amount, locked_at, release_id) "
                "values ('acme', ?, 'BF-202609-0001', 'USD', 10.00, ?, ?)",
                (SEPT, T0, "r20261002T070000000000Z"),
            )

    keep = versions_to_keep(serving, retained=1)

    assert keep == {refs[4], refs[3], refs[1]}  # live, the latest replaced one, the one the lock used


# ---------------------------------------------------------------- rejections


def gate_problem(manifest_id: str = "m-2", reason: str = "2 rows with a duplicate line item id") -> Problem:
    return Problem("gate", f"{PAYER}/r/20260901-20261001/r-Manifest.json", reason, manifest_id, PAYER, SEPT)


def test_a_rejection_stays_open_and_its_delivery_is_not_staged_again_until_resolved(serving):
    record_problems(serving, [gate_problem()], T0)
    record_problems(serving, [gate_problem(reason="now 3 rows")], T0 + timedelta(days=1))

    assert open_problems(serving) == [gate_problem(reason="now 3 rows")]
    assert rejected_deliveries(serving) == {(f"{PAYER}/r/20260901-20261001/r-Manifest.json", "m-2")}
    assert serving.fetch_all("select first_seen_at, last_seen_at from billing_control.delivery_rejections") == [
        (T0, T0 + timedelta(days=1))
    ]


def test_a_rejection_is_resolved_when_its_manifest_describes_another_delivery_or_leaves(serving):
    other = Problem("manifest", "222222222222/x/20260901-20261001/x-Manifest.json", "not valid JSON")
    record_problems(serving, [gate_problem(), other], T0)

    resolve_gone(serving, {f"{PAYER}/r/20260901-20261001/r-Manifest.json": "m-3"}, [], T0 + timedelta(hours=1))

    assert open_problems(serving) == []
    assert serving.fetch_all(
        "select manifest_key, resolution from billing_control.delivery_rejections order by manifest_key"
    ) == [
        (f"{PAYER}/r/20260901-20261001/r-Manifest.json", "the manifest now describes delivery 'm-3'"),
        ("222222222222/x/20260901-20261001/x-Manifest.json", "the manifest left the landing zone"),
    ]


def test_a_newer_version_of_the_partition_going_live_resolves_its_rejection(serving):
    record_problems(serving, [gate_problem()], T0)
    shadow_invoices(serving, "10.00")

    commit_release(serving, release_of("r20261003T060000000000Z", version(PAYER, SEPT, "20261003T060000000000", "m-3")))

    assert open_problems(serving) == []
    assert serving.fetch_all("select resolution from billing_control.delivery_rejections") == [
        ("superseded by version 20261003T060000000000Z-m-3",)
    ]
