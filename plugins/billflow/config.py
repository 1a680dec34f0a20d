"""Settings read from the environment: the only switch between embedded, compose and AWS."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from billflow.formats.identifiers import report_name

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


_TAG_KEY = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")


def allocation_tag_keys(seed: Path | None = None) -> tuple[str, ...]:
    """The user tag keys costs are allocated by (seed allocation_tag_keys of the rule set, read by staging too)."""
    seed = seed or load_settings().dbt_project_dir / "rules" / "allocation_tag_keys.csv"
    with open(seed, newline="", encoding="utf-8") as handle:
        keys = tuple(row["tag_key"].strip() for row in csv.DictReader(handle) if row["tag_key"].strip())
    bad = [key for key in keys if not _TAG_KEY.match(key)]
    if bad:
        raise ValueError(f"{seed}: tag keys {bad} have characters AWS does not allow in tag keys")
    return keys


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_uri: str
    staged_uri: str
    warehouse_path: Path
    serving_path: Path
    dbt_profiles_dir: Path
    serving_conn_id: str | None
    warehouse_conn_id: str | None
    aws_conn_id: str
    # where exports (FOCUS Parquet) are written: a local folder or s3://bucket[/prefix]
    export_uri: str = ""
    # the dbt project; its rules/ folder is the partner's rule set (billflow.rules.project_with_rules)
    dbt_project_dir: Path = DBT_PROJECT_DIR
    # the legacy reports / CUR 2.0 exports to load (None: all); manifests of other reports are ignored
    report_names: frozenset[str] | None = None


def parse_report_names(value: str) -> frozenset[str] | None:
    """BILLFLOW_REPORT_NAMES: comma-separated report or export names; empty means every report.
    A name that breaks the report name rule raises IdentifierError (a ValueError)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    return frozenset(report_name(name, "BILLFLOW_REPORT_NAMES entry") for name in names) or None


def load_settings() -> Settings:
    home = Path(_env("BILLFLOW_HOME", str(Path.home() / ".billflow"))).expanduser()
    return Settings(
        home=home,
        landing_uri=_env("BILLFLOW_LANDING_URI", str(home / "landing")),
        staged_uri=_env("BILLFLOW_STAGED_URI", str(home / "staged")),
        warehouse_path=Path(_env("BILLFLOW_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))),
        serving_path=Path(_env("BILLFLOW_SERVING_PATH", str(home / "serving.duckdb"))),
        dbt_profiles_dir=Path(_env("BILLFLOW_DBT_PROFILES_DIR", str(DBT_PROJECT_DIR / "profiles" / "embedded"))),
        serving_conn_id=os.environ.get("BILLFLOW_SERVING_CONN_ID") or None,
        warehouse_conn_id=os.environ.get("BILLFLOW_WAREHOUSE_CONN_ID") or None,
        aws_conn_id=_env("BILLFLOW_AWS_CONN_ID", "aws_default"),
        export_uri=_env("BILLFLOW_EXPORT_URI", str(home / "exports")),
        dbt_project_dir=Path(_env("BILLFLOW_DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))),
        report_names=parse_report_names(os.environ.get("BILLFLOW_REPORT_NAMES", "")),
    )
