"""The compose stack (deployment mode 2): docker-compose.yml is a valid compose file and configures billflow
by environment alone. No Docker engine is needed: the file is checked against the compose specification
(check-jsonschema's vendored compose-spec schema) and read as YAML with compose's ${VAR:-default} rules.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_PROFILE = ROOT / "dbt_project" / "profiles" / "compose" / "profiles.yml"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init" / "10-billflow-serving-db.sh"
AIRFLOW_INIT = ROOT / "deploy" / "compose" / "airflow-init.sh"

AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-api-server": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
}
SERVICES = {"postgres", "minio", "minio-buckets", *AIRFLOW_SERVICES}
BILLFLOW_SETTINGS = {
    "BILLFLOW_LANDING_URI": "s3://billflow-landing",
    "BILLFLOW_STAGED_URI": "s3://billflow-staged",
    "BILLFLOW_SERVING_CONN_ID": "billflow_serving",
    "BILLFLOW_AWS_CONN_ID": "aws_default",
    "BILLFLOW_DBT_PROFILES_DIR": "/opt/billflow/dbt_project/profiles/compose",
    "BILLFLOW_WAREHOUSE_PATH": "/opt/billflow/data/warehouse.duckdb",
}
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation: ${NAME:-default} from the environment (here: the built-in defaults), $$ -> $."""
    env = env or {}
    text = VARIABLE.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), value)
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def environment(compose: dict, service: str) -> dict[str, str]:
    env = compose["services"][service].get("environment", {})
    assert isinstance(env, dict), f"{service}: write environment as a mapping"
    return {name: interpolate(str(value)) for name, value in env.items()}


def test_the_compose_file_follows_the_compose_specification():
    checker = Path(sys.executable).with_name("check-jsonschema")
    command = [str(checker)] if checker.exists() else [sys.executable, "-m", "check_jsonschema"]
    done = subprocess.run(
        [*command, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stack_has_its_services_and_airflow_runs_the_local_executor(compose):
    assert set(compose["services"]) == SERVICES
    for service, command in AIRFLOW_SERVICES.items():
        spec = compose["services"][service]
        assert spec["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        if command:
            assert spec["command"] == command
        env = environment(compose, service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert (
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:airflow@postgres:5432/airflow"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]
        depends_on = spec["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}
        assert depends_on["minio-buckets"] == {"condition": "service_completed_successfully"}
        if service != "airflow-init":
            assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}
    assert compose["services"]["airflow-init"]["command"] == ["bash", "/opt/billflow/deploy/compose/airflow-init.sh"]


def test_billflow_is_configured_by_environment_in_every_airflow_service(compose):
    for service in AIRFLOW_SERVICES:
        env = environment(compose, service)
        assert {name: env.get(name) for name in BILLFLOW_SETTINGS} == BILLFLOW_SETTINGS, service


def test_every_variable_the_compose_dbt_profile_reads_is_set(compose):
    read_by_profile = set(re.findall(r"env_var\('(BILLFLOW_[A-Z_]+)'", COMPOSE_PROFILE.read_text()))
    assert {"BILLFLOW_PG_HOST", "BILLFLOW_PG_USER", "BILLFLOW_PG_PASSWORD", "BILLFLOW_PG_DBNAME"} <= read_by_profile
    for service in AIRFLOW_SERVICES:
        env = environment(compose, service)
        missing = sorted(name for name in read_by_profile - {"BILLFLOW_DBT_TARGET"} if not env.get(name))
        assert missing == [], f"{service} lacks {missing}"
        assert env["BILLFLOW_PG_HOST"] == "postgres"
        assert (ROOT / env["BILLFLOW_DBT_PROFILES_DIR"].replace("/opt/billflow/", "") / "profiles.yml").is_file()


def test_the_connections_point_at_the_compose_services_with_the_same_credentials(compose):
    from airflow.models.connection import Connection

    env = environment(compose, "airflow-scheduler")
    postgres = environment(compose, "postgres")
    minio = environment(compose, "minio")

    aws = Connection.from_json(env["AIRFLOW_CONN_AWS_DEFAULT"], conn_id="aws_default")
    assert aws.conn_type == "aws"
    assert (aws.login, aws.password) == (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
    assert aws.extra_dejson["endpoint_url"] == "http://minio:9000"
    assert aws.extra_dejson["region_name"]

    serving = Connection.from_json(env["AIRFLOW_CONN_BILLFLOW_SERVING"], conn_id="billflow_serving")
    assert (serving.conn_type, serving.host, serving.port) == ("postgres", "postgres", 5432)
    assert (serving.login, serving.password, serving.schema) == (
        postgres["BILLFLOW_PG_USER"],
        postgres["BILLFLOW_PG_PASSWORD"],
        postgres["BILLFLOW_PG_DBNAME"],
    )
    # dbt's serving target and the billflow_serving connection reach the same database as the same user
    assert (env["BILLFLOW_PG_USER"], env["BILLFLOW_PG_PASSWORD"], env["BILLFLOW_PG_DBNAME"]) == (
        serving.login,
        serving.password,
        serving.schema,
    )


def test_postgres_creates_the_serving_database_and_minio_the_buckets(compose):
    postgres = compose["services"]["postgres"]
    assert "./deploy/compose/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert POSTGRES_INIT.is_file() and POSTGRES_INIT.stat().st_mode & 0o111
    assert {"POSTGRES_USER", "POSTGRES_DB", "BILLFLOW_PG_USER", "BILLFLOW_PG_PASSWORD", "BILLFLOW_PG_DBNAME"} <= set(
        environment(compose, "postgres")
    )
    buckets = compose["services"]["minio-buckets"]
    assert buckets["image"].split(":")[0].endswith("minio/mc")
    assert buckets["depends_on"] == {"minio": {"condition": "service_started"}}
    script = "\n".join(buckets["command"])
    assert "mc mb --ignore-existing billflow/billflow-landing billflow/billflow-staged" in script
    assert "http://minio:9000" in script


def test_the_init_scripts_migrate_create_the_pools_and_parse():
    script = AIRFLOW_INIT.read_text()
    assert "airflow db migrate" in script
    assert re.search(r"airflow pools set billflow_duckdb 1 ", script)
    assert re.search(r"airflow pools set billflow_staging 4 ", script)
    for path in (AIRFLOW_INIT, POSTGRES_INIT):
        done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{path}: {done.stderr}"


def test_credentials_are_example_defaults_that_env_example_lists(compose):
    used = {match["name"] for match in VARIABLE.finditer(COMPOSE_FILE.read_text())}
    listed = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert used == listed
    for service, spec in compose["services"].items():
        for name, value in (spec.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET", name) and not name.endswith("_FILE"):
                assert VARIABLE.fullmatch(str(value)), f"{service}: {name} must come from ${{{name}:-example}}"


def test_the_image_installs_the_package_and_builds_the_dbt_manifest():
    dockerfile = DOCKERFILE.read_text()
    assert re.findall(r"^FROM .*$", dockerfile, re.MULTILINE) == ["FROM python:3.11-slim"]
    assert "-r requirements.txt" in dockerfile
    assert re.search(r"pip install .*-e \.", dockerfile)
    for folder in ("dags", "plugins", "dbt_project", "expectations", "deploy/compose"):
        assert f"COPY {folder}/ {folder}/" in dockerfile
    assert "dbt parse --profiles-dir profiles/compose" in dockerfile
    assert "WORKDIR /opt/billflow" in dockerfile
