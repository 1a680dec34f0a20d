"""Everything a load may change, read back row by row, to prove a failed run changed none of it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb

# control tables a failed run must leave as they were (rejections and the run lock change by design)
CONTROL_TABLES = ("load_ledger", "staged_versions", "releases", "invoice_locks", "locked_invoice_lines")


def _rows(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[tuple]]:
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
    ).fetchall()
    return {name: con.execute(f"select * from {schema}.{name} order by all").fetchall() for (name,) in tables}


def _files(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _released_prefixes(home: Path) -> list[str]:
    """The folders of every staged version a release made live (live or kept after being replaced)."""
    if not (home / "serving.duckdb").exists():
        return []
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select payer_account_id, strftime(billing_period, '%Y-%m'), version_id "
            "from billing_control.staged_versions where purged_at is null"
        ).fetchall()
    finally:
        con.close()
    return [f"versions/payer={payer}/period={period}/{version}/" for payer, period, version in rows]


def staged_files(home: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The staged files of released versions, and every other staged file (what a failed run left)."""
    prefixes = _released_prefixes(home)
    files = _files(home / "staged")
    released = {key: digest for key, digest in files.items() if key.startswith(tuple(prefixes))}
    return released, {key: digest for key, digest in files.items() if key not in released}


def state(home: Path) -> dict[str, Any]:
    """Live state: control tables, published and billing tables, warehouse marts, released staged versions,
    landing files."""
    found: dict[str, Any] = {"staged": staged_files(home)[0], "landing": _files(home / "landing")}
    if (home / "serving.duckdb").exists():
        con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
        try:
            control = _rows(con, "billing_control")
            found["control"] = {name: control.get(name) for name in CONTROL_TABLES}
            found["published"] = _rows(con, "published")
            found["billing"] = _rows(con, "billing")
        finally:
            con.close()
    if (home / "warehouse.duckdb").exists():
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:
            found["marts"] = _rows(con, "marts")
            found["warehouse_build"] = _rows(con, "billflow_meta")
        finally:
            con.close()
    return found


def leftovers(home: Path) -> list[str]:
    """Staged files no release made live, and a candidate warehouse: what a failed run must not leave."""
    left = sorted(staged_files(home)[1])
    candidate = home / "candidate"
    return left + sorted(p.name for p in candidate.iterdir()) if candidate.exists() else left


def marts_only(home: Path) -> dict[str, Any]:
    """What BI reads (warehouse marts, published and billing tables), without control facts such as
    release ids and load times that differ between two correct runs."""
    full = state(home)
    return {key: full.get(key) for key in ("marts", "published", "billing")}


def query(home: Path, sql: str, params: list | None = None, database: str = "serving") -> list[tuple]:
    """Rows of a query on the home's serving (or warehouse) DuckDB file, opened read-only."""
    con = duckdb.connect(str(home / f"{database}.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def open_rejections(home: Path) -> list[tuple]:
    return query(
        home,
        "select stage, manifest_key, manifest_id, reason from billing_control.delivery_rejections "
        "where resolved_at is null order by manifest_key, manifest_id",
    )


def live_manifests(home: Path) -> list[tuple]:
    """(payer, manifest id) of the live staged version of each partition."""
    return query(
        home,
        "select payer_account_id, manifest_id from billing_control.staged_versions where retired_in is null order by 1",
    )
