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
    # where the warehouse of a load is built and tested before it replaces warehouse_path (same file name:
    # DuckDB names the database after it, and dbt's views name the database)
    warehouse_build_path: Path | None = None
    # replaced versions of a staged partition kept for audit (besides any version an invoice lock used)
    retained_versions: int = 3
    # a delivery whose listed files are not all there is waiting; after this long it is an error
    incomplete_grace_hours: float = 6.0
    # how long the run lock stays valid without being given back (a crash on another host)
    run_lock_lease_hours: float = 12.0
    # the Airflow SMTP connection that tells people what they must act on (None: the log only)
    notify_conn_id: str | None = None
    notify_to: tuple[str, ...] = ()
    # the engine that stages deliveries (billflow.engines.factory.query_engine): duckdb or athena
    query_engine: str = "duckdb"
    # Athena: the Glue database of the deliveries' tables, the workgroup, where query results go
    athena_database: str = "billflow_raw"
    athena_workgroup: str = "primary"
    athena_output_uri: str = ""
    # the Airflow connection of the portal's MySQL database (Aurora MySQL), None: no portal tables there
    portal_mysql_conn_id: str | None = None
    # Redshift warehouse: the Glue database holding the staged tables (billflow registers each staged
    # version there as a partition) and the Redshift external schema that maps it (Spectrum)
    spectrum_glue_database: str = "billflow_staged"
    spectrum_schema: str = "spectrum"
    spectrum_iam_role: str | None = None

    @property
    def warehouse_candidate_path(self) -> Path:
        return self.warehouse_build_path or self.warehouse_path.parent / "candidate" / self.warehouse_path.name


def _number(name: str, default: float, minimum: float) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise ValueError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def parse_notify_to(value: str) -> tuple[str, ...]:
    """BILLFLOW_NOTIFY_TO: comma-separated e-mail addresses."""
    addresses = tuple(address.strip() for address in value.split(",") if address.strip())
    bad = [address for address in addresses if not _EMAIL.fullmatch(address)]
    if bad:
        raise ValueError(f"BILLFLOW_NOTIFY_TO: {', '.join(map(repr, bad))} is not an e-mail address")
    return addresses


def parse_report_names(value: str) -> frozenset[str] | None:
    """BILLFLOW_REPORT_NAMES: comma-separated report or export names; empty means every report.
    A name that breaks the report name rule raises IdentifierError (a ValueError)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    return frozenset(report_name(name, "BILLFLOW_REPORT_NAMES entry") for name in names) or None


def load_settings() -> Settings:
    home = Path(_env("BILLFLOW_HOME", str(Path.home() / ".billflow"))).expanduser()
    build_path = _env("BILLFLOW_WAREHOUSE_BUILD_PATH", "")
    retained = _number("BILLFLOW_RETAINED_VERSIONS", 3, 0)
    if not retained.is_integer():
        raise ValueError(f"BILLFLOW_RETAINED_VERSIONS={retained:g} must be a whole number")
    return Settings(
        home=home,
        landing_uri=_env("BILLFLOW_LANDING_URI", str(home / "landing")),
        staged_uri=_env("BILLFLOW_STAGED_URI", str(home / "staged")),
        warehouse_path=Path(_env("BILLFLOW_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))),
        serving_path=Path(_env("BILLFLOW_SERVING_PATH", str(home / "serving.duckdb"))),
        dbt_profiles_dir=Path(_env("BILLFLOW_DBT_PROFILES_DIR", str(DBT_PROJECT_DIR / "profiles" / "embedded"))),
        serving_conn_id=os.environ.get("BILLFLOW_SERVING_CONN_ID") or None,
        warehouse_conn_id=_connection_id("BILLFLOW_WAREHOUSE_CONN_ID"),
        aws_conn_id=_env("BILLFLOW_AWS_CONN_ID", "aws_default"),
        export_uri=_env("BILLFLOW_EXPORT_URI", str(home / "exports")),
        dbt_project_dir=Path(_env("BILLFLOW_DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))),
        warehouse_build_path=Path(build_path).expanduser() if build_path else None,
        retained_versions=int(retained),
        incomplete_grace_hours=_number("BILLFLOW_INCOMPLETE_GRACE_HOURS", 6.0, 0),
        run_lock_lease_hours=_number("BILLFLOW_RUN_LOCK_LEASE_HOURS", 12.0, 0.1),
        report_names=parse_report_names(os.environ.get("BILLFLOW_REPORT_NAMES", "")),
        **_notify_settings(),
        **_query_engine_settings(),
        portal_mysql_conn_id=_connection_id("BILLFLOW_PORTAL_MYSQL_CONN_ID"),
        spectrum_glue_database=_glue_database("BILLFLOW_SPECTRUM_GLUE_DATABASE", "billflow_staged"),
        spectrum_schema=_sql_identifier("BILLFLOW_SPECTRUM_SCHEMA", "spectrum"),
        spectrum_iam_role=_iam_role("BILLFLOW_SPECTRUM_IAM_ROLE"),
    )


def _iam_role(name: str) -> str | None:
    arn = _env(name, "")
    if arn and not re.fullmatch(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}", arn):
        raise ValueError(f"{name}={arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return arn or None


def _glue_database(name: str, default: str) -> str:
    database = _env(name, default)
    if not re.fullmatch(r"[a-z0-9_]{1,255}", database):
        raise ValueError(f"{name}={database!r}: a Glue database name is a-z, 0-9 and _")
    return database


def _sql_identifier(name: str, default: str) -> str:
    """A schema name billflow writes into SQL unquoted: lower-case letters, digits and _, not first a digit."""
    identifier = _env(name, default)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", identifier):
        raise ValueError(f"{name}={identifier!r}: a schema name here is a-z, 0-9 and _, not starting with a digit")
    return identifier


def _connection_id(name: str) -> str | None:
    conn_id = _env(name, "")
    if conn_id and not re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", conn_id):
        raise ValueError(f"{name}={conn_id!r} is not an Airflow connection id")
    return conn_id or None


QUERY_ENGINES = ("duckdb", "athena")


def _query_engine_settings() -> dict[str, object]:
    engine = _env("BILLFLOW_QUERY_ENGINE", "duckdb")
    if engine not in QUERY_ENGINES:
        raise ValueError(f"BILLFLOW_QUERY_ENGINE={engine!r} is not one of {', '.join(QUERY_ENGINES)}")
    database = _glue_database("BILLFLOW_ATHENA_DATABASE", "billflow_raw")
    workgroup = _env("BILLFLOW_ATHENA_WORKGROUP", "primary")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", workgroup):
        raise ValueError(f"BILLFLOW_ATHENA_WORKGROUP={workgroup!r} is not an Athena workgroup name")
    output = _env("BILLFLOW_ATHENA_OUTPUT_URI", "")
    if output and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^'\\]*)?", output):
        raise ValueError(f"BILLFLOW_ATHENA_OUTPUT_URI={output!r} is not an s3:// location")
    if engine == "athena" and not output:
        raise ValueError("BILLFLOW_QUERY_ENGINE=athena needs BILLFLOW_ATHENA_OUTPUT_URI (where Athena writes results)")
    return {
        "query_engine": engine,
        "athena_database": database,
        "athena_workgroup": workgroup,
        "athena_output_uri": output if not output or output.endswith("/") else output + "/",
    }


def _notify_settings() -> dict[str, object]:
    conn_id = _env("BILLFLOW_NOTIFY_CONN_ID", "")
    to = parse_notify_to(os.environ.get("BILLFLOW_NOTIFY_TO", ""))
    if conn_id and not to:
        raise ValueError("BILLFLOW_NOTIFY_CONN_ID is set but BILLFLOW_NOTIFY_TO names nobody to tell")
    if conn_id and not re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", conn_id):
        raise ValueError(f"BILLFLOW_NOTIFY_CONN_ID={conn_id!r} is not an Airflow connection id")
    return {"notify_conn_id": conn_id or None, "notify_to": to}
