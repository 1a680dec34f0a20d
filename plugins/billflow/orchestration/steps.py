"""The steps of the daily load and the monthly close: what each DAG task does, in plain functions.

The DAG tasks (billflow.orchestration.tasks) are thin calls of these; the DAG files wire the tasks, and
that wiring is the only composition of the flow (billflow.orchestration.runner runs the DAGs themselves
in one process for the bench and the tests). What the flow guarantees:

* nothing goes live before every check after it passed: a delivery is staged into a new version of its
  partition, gated, then built into a candidate warehouse and a serving shadow with every dbt test, and
  only a release (billflow.control.release) makes all of it live in one transaction;
* a failed run leaves staged data, marts, serving tables and locked invoices exactly as they were, and
  what it could not load is recorded and fails the run's last step, naming each manifest and why;
* one run at a time (billflow.control.runlock);
* every run starts by completing a release a crash interrupted and by removing what a failed run left.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from billflow.config import Settings

log = logging.getLogger(__name__)

PROBLEMS_PREFIX = "problems"


class DeliveriesNotLoaded(RuntimeError):
    """The run ended with deliveries that are not loaded and need a person (listed in the message)."""


class InvoicesNotLocked(RuntimeError):
    """The close could not lock some invoices (listed in the message)."""


class StepFailed(RuntimeError):
    """A partition's staging or gate failed; the reason is recorded for the run's report."""


class RunNotStarted(RuntimeError):
    """The run could not take the run lock or repair an earlier run's leftovers."""


class ReleaseFailed(RuntimeError):
    """A release was built but did not go live: a check after staging failed."""


class DbtBuildFailed(RuntimeError):
    """A dbt model or test failed: nothing after it was built, and nothing goes live."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def _serving(settings: Settings) -> Iterator[Any]:
    from billflow.engines.factory import serving_database

    db = serving_database(settings)
    try:
        yield db
    finally:
        db.close()


# ---------------------------------------------------------------- run lock and recovery


def start_run(settings: Settings, holder: Any) -> None:
    """Take the run lock, bring the control tables up to date, and repair what an earlier run left:
    a release committed just before a crash is completed, unreleased versions and candidate files go."""
    from billflow.control.release import LOAD, latest_release_id
    from billflow.control.runlock import acquire
    from billflow.control.schema import ensure_control_tables
    from billflow.engines.factory import staged_store
    from billflow.staging.migrate import adopt_unversioned_partitions
    from billflow.warehouse.build import complete_warehouse_release

    with _serving(settings) as db:
        ensure_control_tables(db)
        acquire(db, holder, timedelta(hours=settings.run_lock_lease_hours))
        adopt_unversioned_partitions(staged_store(settings), db, _now())
        latest = latest_release_id(db, LOAD)
    state = complete_warehouse_release(settings, latest)
    if state == "stale":
        log.warning("the live warehouse is not the one of release %s: this run rebuilds it", latest)
    remove_unreleased(settings)


def end_run(settings: Settings, holder: Any) -> bool:
    from billflow.control.runlock import release

    with _serving(settings) as db:
        return release(db, holder)


def remove_unreleased(settings: Settings) -> list[str]:
    """Delete staged versions no release made live (a failed or crashed run's), replaced versions beyond
    the retention, and a candidate warehouse no committed release needs. Returns what was deleted."""
    from billflow.control.release import LOAD, latest_release_id
    from billflow.control.versions import mark_purged, recorded_versions, versions_to_keep
    from billflow.engines.factory import staged_store
    from billflow.staging.versions import delete_version, stored_versions
    from billflow.warehouse.build import discard_warehouse_build

    store = staged_store(settings)
    with _serving(settings) as db:
        keep = versions_to_keep(db, settings.retained_versions)
        recorded = {r.version: r for r in recorded_versions(db)}
        latest = latest_release_id(db, LOAD)
        deleted = sorted(stored_versions(store) - keep)
        for version in deleted:
            delete_version(store, version)
            log.info(
                "deleted staged version %s (%s)", version.label, "replaced" if version in recorded else "never released"
            )
        mark_purged(db, [v for v in deleted if v in recorded], _now())
    discard_warehouse_build(settings, keep_build_id=latest)
    if settings.warehouse_conn_id and deleted:
        from billflow.warehouse.spectrum import deregister_staged_versions

        deregister_staged_versions(settings, deleted)
    return [version.label for version in deleted]


def warehouse_is_stale(settings: Settings) -> bool:
    """Whether the live warehouse is not the one of the latest committed load release (rebuild it)."""
    from billflow.control.release import LOAD, latest_release_id
    from billflow.warehouse.build import live_build_id

    with _serving(settings) as db:
        latest = latest_release_id(db, LOAD)
    return latest is not None and live_build_id(settings) != latest


# ---------------------------------------------------------------- sense


@dataclass(frozen=True)
class Sensed:
    """What the landing zone holds that this run must act on."""

    to_load: list[Any]  # Delivery
    problems: list[Any]  # Problem: rejected manifests and deliveries overdue
    manifests: dict[str, str]  # every manifest key in the landing zone -> its manifest id ('' unreadable)
    waiting: list[str]  # deliveries still being written, within the grace period
    warehouse_stale: bool

    @property
    def needs_run(self) -> bool:
        return bool(self.to_load or self.problems or self.warehouse_stale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "to_load": [d.to_dict() for d in self.to_load],
            "problems": [p.to_dict() for p in self.problems],
            "manifests": dict(self.manifests),
            "waiting": list(self.waiting),
            "warehouse_stale": self.warehouse_stale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sensed:
        from billflow.control.rejections import Problem
        from billflow.formats.manifest import Delivery

        return cls(
            to_load=[Delivery.from_dict(d) for d in data["to_load"]],
            problems=[Problem.from_dict(p) for p in data["problems"]],
            manifests=dict(data["manifests"]),
            waiting=list(data["waiting"]),
            warehouse_stale=bool(data["warehouse_stale"]),
        )


def sense(settings: Settings, force_reload: bool = False, now: datetime | None = None) -> Sensed:
    """The complete deliveries to load (not in the ledger, not rejected before unless forced), and the
    manifests that need a person: unreadable or ambiguous ones, and deliveries incomplete for longer than
    the grace period."""
    from billflow.control.ledger import new_deliveries
    from billflow.control.rejections import Problem, rejected_deliveries
    from billflow.control.schema import ensure_control_tables
    from billflow.engines.factory import landing_store
    from billflow.formats.discovery import discover_deliveries

    stamp = now or _now()
    found = discover_deliveries(landing_store(settings), report_names=settings.report_names)
    problems = [
        Problem("manifest", r.manifest_key, r.reason, r.manifest_id or "", r.payer_account_id, r.billing_period)
        for r in found.rejected
    ]
    waiting: list[str] = []
    grace = timedelta(hours=settings.incomplete_grace_hours)
    for item in found.waiting:
        age = stamp - item.manifest_modified_at.astimezone(UTC).replace(tzinfo=None)
        missing = ", ".join(item.missing_keys[:3]) + (" ..." if len(item.missing_keys) > 3 else "")
        text = f"{len(item.missing_keys)} of {item.listed} listed data files are not there (e.g. {missing})"
        if age > grace:
            problems.append(
                Problem(
                    "incomplete",
                    item.manifest_key,
                    f"{text} {age.total_seconds() / 3600:.1f} hours after the manifest was written "
                    f"(grace period {settings.incomplete_grace_hours:g} h)",
                    item.manifest_id or "",
                    item.payer_account_id,
                    item.billing_period,
                )
            )
        else:
            waiting.append(f"{item.manifest_key}: waiting, {text}")
    manifests = {d.manifest_key: d.manifest_id for d in found.deliveries}
    manifests.update({w.manifest_key: w.manifest_id or "" for w in found.waiting})
    manifests.update({r.manifest_key: r.manifest_id or "" for r in found.rejected})
    with _serving(settings) as db:
        ensure_control_tables(db)
        todo = found.deliveries if force_reload else new_deliveries(db, found.deliveries)
        if not force_reload:
            rejected = rejected_deliveries(db)
            skipped = [d for d in todo if (d.manifest_key, d.manifest_id) in rejected]
            for delivery in skipped:
                log.warning("not staged again (rejected before): %s %s", delivery.manifest_key, delivery.manifest_id)
            todo = [d for d in todo if d not in skipped]
    stale = warehouse_is_stale(settings)
    for line in waiting:
        log.info(line)
    for problem in problems:
        log.error("needs attention: %s", problem.describe())
    log.info(
        "%d complete deliveries, %d to load, %d waiting, %d problems%s",
        len(found.deliveries),
        len(todo),
        len(waiting),
        len(problems),
        ", the warehouse must be rebuilt" if stale else "",
    )
    return Sensed(list(todo), problems, manifests, waiting, stale)


# ---------------------------------------------------------------- stage and gate, per partition


@dataclass(frozen=True)
class Candidate:
    """A staged version of one delivery, not live yet."""

    delivery: Any  # Delivery
    version_id: str
    raw_rows: int
    staged_rows: int
    unblended_cost: Decimal | None = None  # set by the gate: straight from the raw lines
    is_final: bool | None = None  # set by the gate: every staged row has an AWS invoice id

    @property
    def version(self) -> Any:
        from billflow.staging.versions import VersionRef

        return VersionRef(self.delivery.payer_account_id, self.delivery.billing_period, self.version_id)

    @property
    def label(self) -> str:
        return f"{self.delivery.payer_account_id} {self.delivery.period_label}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery.to_dict(),
            "version_id": self.version_id,
            "raw_rows": self.raw_rows,
            "staged_rows": self.staged_rows,
            "unblended_cost": None if self.unblended_cost is None else str(self.unblended_cost),
            "is_final": self.is_final,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        from billflow.formats.manifest import Delivery
        from billflow.staging.versions import check_version_id

        cost = data.get("unblended_cost")
        return cls(
            delivery=Delivery.from_dict(data["delivery"]),
            version_id=check_version_id(data["version_id"]),
            raw_rows=int(data["raw_rows"]),
            staged_rows=int(data["staged_rows"]),
            unblended_cost=None if cost is None else Decimal(cost),
            is_final=data.get("is_final"),
        )


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _problem_key(problem: Any) -> str:
    name = f"{problem.payer_account_id}-{problem.billing_period}-{problem.manifest_id}-{problem.stage}"
    return f"{PROBLEMS_PREFIX}/{_SAFE.sub('_', name)}.json"


def note_problem(settings: Settings, problem: Any) -> None:
    """Keep a partition's failure for the run's report (tasks of one run may run in other processes)."""
    from billflow.engines.factory import staged_store

    staged_store(settings).write_bytes(_problem_key(problem), json.dumps(problem.to_dict()).encode())
    log.error("%s", problem.describe())


def _fail_partition(settings: Settings, delivery: Any, stage: str, error: BaseException) -> StepFailed:
    from billflow.control.rejections import Problem

    reason = str(error).strip() or type(error).__name__
    problem = Problem(
        stage, delivery.manifest_key, reason, delivery.manifest_id, delivery.payer_account_id, delivery.billing_period
    )
    note_problem(settings, problem)
    return StepFailed(f"payer {delivery.payer_account_id} {delivery.period_label} ({delivery.manifest_key}): {reason}")


def stage_partition(settings: Settings, delivery: Any) -> Candidate:
    """Stage one delivery into a new version of its partition (nothing live changes)."""
    from billflow.config import allocation_tag_keys
    from billflow.engines.factory import landing_store, query_engine, staged_store
    from billflow.staging.stage import stage_delivery

    engine = query_engine(settings)
    try:
        result = stage_delivery(
            delivery,
            landing_store(settings),
            staged_store(settings),
            engine,
            tag_keys=allocation_tag_keys(settings.dbt_project_dir / "rules" / "allocation_tag_keys.csv"),
            rules_dir=settings.dbt_project_dir / "rules",
        )
    except Exception as exc:
        raise _fail_partition(settings, delivery, "staging", exc) from exc
    finally:
        engine.close()
    return Candidate(delivery, result.version.version_id, result.raw_rows, result.staged_rows)


def gate_partition(settings: Settings, candidate: Candidate) -> Candidate:
    """The staging gate on one candidate version; a failed gate deletes the version and fails."""
    from billflow.config import allocation_tag_keys
    from billflow.engines.factory import staged_store
    from billflow.formats.line_item_types import known_line_item_types
    from billflow.quality.gate import enforce_gate
    from billflow.staging.stage import (
        every_row_invoiced,
        local_version_files,
        raw_unblended_total,
        read_raw_checks,
        read_raw_totals,
    )
    from billflow.staging.versions import delete_version

    store, version, delivery = staged_store(settings), candidate.version, candidate.delivery
    try:
        raw_totals = read_raw_totals(store, version)
        with local_version_files(store, version) as (staged_file, tags_file):
            result = enforce_gate(
                staged_file,
                raw_totals,
                raw_checks=read_raw_checks(store, version),
                known_line_item_types=known_line_item_types(settings.dbt_project_dir),
                payer_account_id=delivery.payer_account_id,
                billing_period=delivery.billing_period,
                tag_costs=tags_file,
                tag_keys=allocation_tag_keys(settings.dbt_project_dir / "rules" / "allocation_tag_keys.csv"),
                results_dir=settings.home / "gx",
            )
            is_final = every_row_invoiced(staged_file)
    except Exception as exc:
        delete_version(store, version)
        raise _fail_partition(settings, delivery, "gate", exc) from exc
    log.info("gate passed for %s: %d checks", candidate.label, result.checks)
    return Candidate(
        delivery,
        candidate.version_id,
        candidate.raw_rows,
        candidate.staged_rows,
        raw_unblended_total(raw_totals),
        is_final,
    )


# ---------------------------------------------------------------- build, publish, release


@dataclass(frozen=True)
class Plan:
    """What a release will hold: the new versions and every version the candidate warehouse is built from."""

    release_id: str
    candidates: list[Candidate]
    versions: list[Any] = field(default_factory=list)  # VersionRef: live ones not replaced + the new ones

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "candidates": [c.to_dict() for c in self.candidates],
            "versions": [[v.payer_account_id, v.billing_period.isoformat(), v.version_id] for v in self.versions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        from billflow.staging.versions import VersionRef

        return cls(
            release_id=str(data["release_id"]),
            candidates=[Candidate.from_dict(c) for c in data["candidates"]],
            versions=[VersionRef(p, date.fromisoformat(d), v) for p, d, v in data["versions"]],
        )


def plan_release(settings: Settings, candidates: list[Candidate], warehouse_stale: bool) -> Plan | None:
    """The release this run builds, or None when there is nothing to release."""
    from billflow.control.release import new_release_id
    from billflow.control.versions import live_versions

    if not candidates and not warehouse_stale:
        return None
    with _serving(settings) as db:
        live = live_versions(db)
    replaced = {(c.delivery.payer_account_id, c.delivery.billing_period) for c in candidates}
    if len(replaced) != len(candidates):
        raise ValueError("two candidates for one partition in one release")
    versions = [v for v in live if (v.payer_account_id, v.billing_period) not in replaced]
    versions += [c.version for c in candidates]
    plan = Plan(new_release_id(), list(candidates), sorted(versions))
    log.info(
        "release %s: %d new versions (%s), %d versions in all",
        plan.release_id,
        len(candidates),
        ", ".join(c.label for c in candidates) or "none: rebuilding the warehouse",
        len(plan.versions),
    )
    return plan


def register_staged_partitions(settings: Settings, plan: Plan) -> list[str]:
    """On a Redshift warehouse: register every version of the release as a partition of the Glue tables its
    Spectrum schema maps (billflow.warehouse.spectrum); returns the versions registered now. A DuckDB
    warehouse reads the staged files itself: nothing to register."""
    if not settings.warehouse_conn_id:
        return []
    from billflow.engines.factory import staged_store
    from billflow.warehouse.spectrum import register_staged_versions

    return register_staged_versions(settings, staged_store(settings), plan.versions)


def prepare_warehouse(settings: Settings, plan: Plan) -> None:
    from billflow.engines.factory import staged_store
    from billflow.warehouse.build import prepare_warehouse_build

    prepare_warehouse_build(settings, staged_store(settings), plan.versions, plan.release_id)


# ---------------------------------------------------------------- dbt

# What each dbt build selects (the tags of dbt_project.yml) and the profile target it runs against.
DBT_BUILDS = {"warehouse": ("tag:warehouse", "warehouse"), "serving": ("tag:serving", "serving")}
# dbt unit tests check the SQL, not the data: they run in CI (make test), not on every load. billflow reads
# each node's result from the invocation itself, so dbt does not write manifest.json and run_results.json
# (about 1 s a build; `make dbt-parse` and dbt run by hand still write them)
PRODUCTION_BUILD_FLAGS = ("--exclude-resource-type", "unit_test", "--no-write-json")


def build_models(
    settings: Settings, build: str, on_built: Callable[[list[BuiltNode]], None] | None = None
) -> dict[str, int]:
    """`dbt build` of the warehouse (into the candidate) or of serving (into the shadow): every model, seed
    and data test of the selection, in dependency order. Logs each node with its status and time and returns
    how many nodes of each kind were built; raises DbtBuildFailed naming each failed node, with dbt's message.
    `on_built` receives every node's outcome once the whole build passed."""
    from collections import Counter

    from billflow.warehouse.build import candidate_schema_suffix
    from billflow.warehouse.dbt import invoke_dbt

    select, target = DBT_BUILDS[build]
    args = ["build", "--select", select, "--target", target, "--quiet", *PRODUCTION_BUILD_FLAGS]
    args += ["--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_profiles_dir)]
    args += ["--target-path", str(settings.home / "dbt-target" / build)]
    # On a warehouse server the warehouse target builds into the candidate's schemas (generate_schema_name).
    # Set for both builds and left alone otherwise: dbt re-parses the whole project when an environment
    # variable it read has changed since its last parse.
    suffix = candidate_schema_suffix(settings)
    with environment_set(**({"BILLFLOW_WAREHOUSE_SCHEMA_SUFFIX": suffix} if suffix else {})):
        result = invoke_dbt(args)
    nodes = list(result.result) if result.result is not None and hasattr(result.result, "__iter__") else []
    for r in nodes:
        log.info("dbt %s: %s %s: %s (%.1fs)", build, r.node.resource_type, r.node.name, r.status, r.execution_time)
    if not result.success:
        failed = [r for r in nodes if str(r.status) not in ("success", "pass", "skipped")]
        found = _failing_rows(settings, build, [r.node for r in failed if r.node.resource_type == "test"])
        described = [
            f"{r.node.name}: {r.status} {r.message or ''}".strip() + found.get(r.node.unique_id, "") for r in failed
        ]
        raise DbtBuildFailed(f"dbt build of {build} ({select} on {target}) failed: {described or result.exception}")
    if on_built is not None:
        on_built(
            [
                BuiltNode(str(r.node.resource_type), r.node.name, str(r.status), round(r.execution_time, 3))
                for r in nodes
            ]
        )
    return dict(sorted(Counter(f"{r.node.resource_type}s" for r in nodes).items()))


@dataclass(frozen=True)
class BuiltNode:
    """One node of a passed dbt build: its kind (model, seed, test), name, dbt status and seconds."""

    resource_type: str
    name: str
    status: str
    seconds: float


@contextmanager
def environment_set(**values: str) -> Iterator[None]:
    """These environment variables set while the block runs, then as they were (unset where they were)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


FAILING_ROWS_SHOWN = 5


def _failing_rows(settings: Settings, build: str, tests: list[Any]) -> dict[str, str]:
    """Test id -> what its query returns, queried again from the database the build tested: a data test
    names what failed in its rows (row_checks: each failed check and how many rows), not in its node."""
    if not tests:
        return {}
    from billflow.engines.factory import serving_database
    from billflow.warehouse.build import candidate_database

    database = candidate_database(settings) if build == "warehouse" else serving_database(settings)
    found: dict[str, str] = {}
    try:
        for test in tests:
            try:
                rows = database.fetch_all(f"select * from ({test.compiled_code}) as failing limit {FAILING_ROWS_SHOWN}")
            except Exception as error:  # the test's own failure is reported either way
                log.warning("cannot read the rows of failed test %s: %s", test.name, error)
                continue
            shown = "; ".join(" ".join(str(value) for value in row) for row in rows)
            found[test.unique_id] = f" ({shown})" if shown else ""
    finally:
        database.close()
    return found


def publish(settings: Settings) -> Any:
    """Copy the candidate warehouse's marts into the serving shadow, checked to the cent."""
    from billflow.engines.factory import serving_database
    from billflow.serving.publish import MARTS_SCHEMA, publish_marts
    from billflow.warehouse.build import candidate_database, candidate_schema_suffix

    warehouse = candidate_database(settings)
    serving = serving_database(settings)
    try:
        return publish_marts(warehouse, serving, marts_schema=MARTS_SCHEMA + candidate_schema_suffix(settings))
    finally:
        warehouse.close()
        serving.close()


def release(settings: Settings, plan: Plan, run_id: str, holder: Any) -> list[str]:
    """Make the plan live: one serving transaction, then the warehouse file. Returns the published periods."""
    from billflow.control.release import LOAD, Release, commit_release
    from billflow.control.runlock import check_held
    from billflow.control.versions import StagedVersion
    from billflow.serving.shadow import PUBLISHED_SCHEMA
    from billflow.warehouse.build import release_warehouse

    versions = tuple(
        StagedVersion(
            version=c.version,
            manifest_id=c.delivery.manifest_id,
            manifest_key=c.delivery.manifest_key,
            source_format=c.delivery.source_format,
            raw_row_count=c.raw_rows,
            staged_row_count=c.staged_rows,
            unblended_cost=c.unblended_cost if c.unblended_cost is not None else Decimal(0),
            is_final=bool(c.is_final),
        )
        for c in plan.candidates
    )
    with _serving(settings) as db:
        check_held(db, holder)
        commit_release(db, Release(plan.release_id, run_id, LOAD, versions, tuple(c.delivery for c in plan.candidates)))
        periods = sorted(
            {
                p.strftime("%Y-%m")
                for (p,) in db.fetch_all(f"select distinct billing_period from {PUBLISHED_SCHEMA}.invoices")
            }
        )
    release_warehouse(settings, plan.release_id)
    return periods


def publish_portal(settings: Settings) -> dict[str, int] | None:
    """Replace every billing period of the portal's MySQL tables with serving's live rows, atomically
    (billflow.serving.mysql_portal); None when no portal database is configured."""
    if not settings.portal_mysql_conn_id:
        return None
    from billflow.engines.factory import serving_database
    from billflow.serving.mysql_portal import mysql_engine, publish_to_mysql

    engine = mysql_engine(settings.portal_mysql_conn_id)
    serving = serving_database(settings)
    try:
        return publish_to_mysql(serving, engine).rows
    finally:
        serving.close()
        engine.dispose()


def export_focus(settings: Settings) -> list[str]:
    """Write the live warehouse's FOCUS mart as one Parquet file per billing period."""
    from billflow.engines.factory import warehouse_database
    from billflow.serving.focus_export import export_focus as write_focus
    from billflow.serving.focus_export import export_store

    warehouse = warehouse_database(settings)
    try:
        written = write_focus(warehouse, export_store(settings))
    finally:
        warehouse.close()
    return [item.uri for item in written]


# ---------------------------------------------------------------- the run's report


def collect_problems(settings: Settings) -> list[Any]:
    """The partition failures noted by this run's tasks (and any a crashed run left), removed from the store."""
    from billflow.control.rejections import Problem
    from billflow.engines.factory import staged_store

    store = staged_store(settings)
    problems = []
    for key in store.list_keys(PROBLEMS_PREFIX):
        problems.append(Problem.from_dict(json.loads(store.read_bytes(key))))
    if problems:
        store.delete_prefix(PROBLEMS_PREFIX)
    return problems


def report_deliveries(
    settings: Settings, sensed: Sensed | None, now: datetime | None = None, fail: bool = True
) -> list[str]:
    """Record what this run could not load and fail (unless `fail` is False) while any rejected delivery is
    unresolved.

    Returns the lines of the report (waiting deliveries, resolved rejections are only logged)."""
    from billflow.control.rejections import open_problems, record_problems, resolve_gone

    stamp = now or _now()
    found = list(sensed.problems) if sensed else []
    found += collect_problems(settings)
    with _serving(settings) as db:
        record_problems(db, found, stamp)
        if sensed is not None:
            resolve_gone(db, sensed.manifests, found, stamp)
        still_open = open_problems(db)
    lines = [f"waiting: {line}" for line in (sensed.waiting if sensed else [])]
    if still_open and fail:
        text = "\n".join(f"  - {p.describe()}" for p in still_open)
        raise DeliveriesNotLoaded(f"{len(still_open)} deliveries are not loaded and need attention:\n{text}")
    log.info("every delivery in the landing zone is loaded or still being written")
    return lines


# ---------------------------------------------------------------- monthly close


def close_policy(settings: Settings) -> Any:
    """The close's view of the rule set (unassigned limits) and of deliveries not loaded yet."""
    from billflow.billing.close import ClosePolicy
    from billflow.engines.factory import landing_store, staged_store
    from billflow.formats.discovery import discover_deliveries
    from billflow.rules import unassigned_cost_limits
    from billflow.staging.versions import stored_versions

    with _serving(settings) as db:
        from billflow.control.ledger import new_deliveries
        from billflow.control.versions import live_versions

        found = discover_deliveries(landing_store(settings), report_names=settings.report_names)
        unloaded = {(d.payer_account_id, d.billing_period) for d in new_deliveries(db, found.deliveries)}
        live = set(live_versions(db))
    unreleased = stored_versions(staged_store(settings)) - live
    unloaded |= {(v.payer_account_id, v.billing_period) for v in unreleased}
    return ClosePolicy(unassigned_cost_limits(settings.dbt_project_dir / "rules"), frozenset(unloaded))


def prepare_serving_rebuild(settings: Settings) -> list[str]:
    """Start the close's serving build from the live published marts (the shadow may hold a failed load's)."""
    from billflow.serving.shadow import refresh_published_shadow

    with _serving(settings) as db:
        return refresh_published_shadow(db)


def lock_invoices(settings: Settings, as_of: date, holder: Any) -> Any:
    """Lock the final invoices of finished months from the tested serving shadow (CloseResult)."""
    from billflow.billing.close import lock_final_invoices
    from billflow.control.release import latest_release_id
    from billflow.control.runlock import check_held

    policy = close_policy(settings)
    with _serving(settings) as db:
        check_held(db, holder)
        return lock_final_invoices(db, as_of, policy, release_id=latest_release_id(db))


def release_serving(settings: Settings, run_id: str, holder: Any) -> str:
    """Make the rebuilt serving shadow live (a release without new staged versions)."""
    from billflow.control.release import CLOSE, Release, commit_release, new_release_id
    from billflow.control.runlock import check_held

    release_id = new_release_id()
    with _serving(settings) as db:
        check_held(db, holder)
        commit_release(db, Release(release_id, run_id, CLOSE))
    return release_id


def report_close(settings: Settings, result: Any) -> list[str]:
    """Tell people about unassigned cost and invoices that could not be locked; fail the close when invoices
    that were due stayed unlocked."""
    from billflow.orchestration.notify import notify_people

    lines = [f"locked {item.invoice_number} {item.customer_id} {item.billing_period:%Y-%m}" for item in result.locked]
    unassigned = [
        f"unassigned cost of payer {u.payer_account_id} {u.billing_period:%Y-%m}: {u.amortized_cost.normalize():f}"
        + (f" (above the limit of {u.limit:f})" if u.over_limit else "")
        for u in result.unassigned
    ]
    blocked = [f"not locked: {item.describe()}" for item in result.blocked]
    if unassigned or blocked:
        periods = sorted({f"{item.billing_period:%Y-%m}" for item in [*result.unassigned, *result.blocked]})
        parts = [f"{len(blocked)} invoices not locked"] if blocked else []
        parts += [f"unassigned cost on {len(unassigned)} payer months"] if unassigned else []
        subject = f"billflow close {', '.join(periods)}: {', '.join(parts)}"
        notify_people(settings, subject, blocked + unassigned + lines)
    if result.blocked:
        text = "\n".join(f"  - {item.describe()}" for item in result.blocked)
        raise InvoicesNotLocked(f"{len(result.blocked)} invoices were not locked:\n{text}")
    return lines + unassigned
