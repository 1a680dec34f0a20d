"""The compose stack (deployment mode 2): docker-compose.yml is a valid compose file and configures billflow
by environment alone. No Docker engine is needed: the file is checked against the compose specification
(check-jsonschema's vendored compose-spec schema) and read as YAML with compose's interpolation rules
(below), its secrets supplied by a .env that deploy/compose/generate_env.py writes, as `make compose-env` does.
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
COMPOSE_DIR = ROOT / "deploy" / "compose"
POSTGRES_INIT = COMPOSE_DIR / "postgres-init" / "10-billflow-serving-db.sh"
AIRFLOW_INIT = COMPOSE_DIR / "airflow-init.sh"
PASSWORDS_FILE_SCRIPT = COMPOSE_DIR / "write-passwords-file.sh"
MINIO_INIT = COMPOSE_DIR / "minio-init" / "minio-init.sh"
GENERATE_ENV = COMPOSE_DIR / "generate_env.py"

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
SECRETS = {
    "POSTGRES_PASSWORD",
    "BILLFLOW_PG_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MINIO_BILLFLOW_ACCESS_KEY",
    "MINIO_BILLFLOW_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY")

# Compose's interpolation: $$ is a literal $; ${NAME}, $NAME; ${NAME:-default} (unset or empty), ${NAME-default}
# (unset); ${NAME:?message} (error when unset or empty), ${NAME?message} (error when unset).
REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name, self.message = name, message


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name, operator, argument = match["name"] or match["bare"], match["operator"], match["argument"]
        value = env.get(name)
        missing = not value if operator and operator.startswith(":") else value is None
        if operator in (":?", "?") and missing:
            raise MissingVariable(name, argument)
        if operator in (":-", "-") and missing:
            return argument
        return value or ""

    return REFERENCE.sub(substitute, value)


def interpolate_tree(node, env: dict[str, str], missing: list[MissingVariable] | None = None):
    """The parsed compose file with every string interpolated; errors are raised, or collected in `missing`."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, missing) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env, missing) for value in node]
    if not isinstance(node, str):
        return node
    try:
        return interpolate(node, env)
    except MissingVariable as error:
        if missing is None:
            raise
        missing.append(error)
        return node


def references(node):
    """Every ${...} / $NAME of the parsed compose file (comments excluded), as regex matches."""
    if isinstance(node, dict):
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)
    elif isinstance(node, str):
        yield from (match for match in REFERENCE.finditer(node) if not match["escaped"])


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as written: ${...} not yet interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def dotenv(tmp_path_factory) -> dict[str, str]:
    """The variables of a .env written by the generator, as `make compose-env` writes it."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run([sys.executable, str(GENERATE_ENV), "--output", str(path)], check=True, capture_output=True)
    return read_env_file(path)


@pytest.fixture(scope="module")
def resolved(compose, dotenv) -> dict:
    """The compose file as compose sees it with the generated .env."""
    return interpolate_tree(compose, dotenv)


def environment(resolved: dict, service: str) -> dict[str, str]:
    env = resolved["services"][service].get("environment", {})
    assert isinstance(env, dict), f"{service}: write environment as a mapping"
    return {name: str(value) for name, value in env.items()}


def check_compose_spec(path: Path) -> subprocess.CompletedProcess:
    checker = Path(sys.executable).with_name("check-jsonschema")
    command = [str(checker)] if checker.exists() else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run(
        [*command, "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True, text=True, check=False
    )


def test_the_compose_file_follows_the_compose_specification():
    done = check_compose_spec(COMPOSE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_with_a_generated_env_the_interpolated_compose_file_follows_the_compose_specification(resolved, tmp_path):
    interpolated = tmp_path / "docker-compose.yml"
    interpolated.write_text(yaml.safe_dump(resolved, sort_keys=False))
    done = check_compose_spec(interpolated)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_secret_has_a_default_every_one_is_required_with_a_message_naming_it(compose):
    found = list(references(compose))
    secret_references = [match for match in found if SECRET_NAME.search(match["name"] or match["bare"] or "")]
    assert {match["name"] for match in secret_references} == SECRETS
    for match in secret_references:
        assert match["operator"] == ":?", f"{match[0]}: a secret is required, never defaulted"
        assert match["argument"] == f"set {match['name']} in .env (make compose-env writes every secret)"
    # the other settings all have defaults: a .env holding only the generated secrets starts the stack
    for match in found:
        if match["name"] not in SECRETS:
            assert match["name"] and match["operator"] == ":-", f"{match[0]}: give a non-secret setting a default"


def test_without_an_env_compose_interpolation_fails_naming_every_missing_secret(compose):
    missing: list[MissingVariable] = []
    interpolate_tree(compose, {}, missing)

    assert {error.name for error in missing} == SECRETS
    for error in missing:
        assert str(error) == (
            f"required variable {error.name} is missing a value: "
            f"set {error.name} in .env (make compose-env writes every secret)"
        )
    with pytest.raises(MissingVariable, match=r"^required variable BILLFLOW_PG_PASSWORD is missing a value: set "):
        interpolate_tree(compose, {})  # without collecting, the first one stops it (x-billflow-pg comes first)


def test_an_env_copied_from_env_example_still_misses_every_secret(compose):
    missing: list[MissingVariable] = []
    interpolate_tree(compose, read_env_file(ENV_EXAMPLE), missing)
    assert {error.name for error in missing} == SECRETS


def test_env_example_lists_every_variable_of_the_compose_file_and_no_secret_value(compose):
    used = {match["name"] or match["bare"] for match in references(compose)}
    listed = read_env_file(ENV_EXAMPLE)
    assert set(listed) == used
    assert {name: value for name, value in listed.items() if name in SECRETS} == dict.fromkeys(SECRETS, "")


def test_the_stack_has_its_services_and_airflow_runs_the_local_executor(resolved, dotenv):
    assert set(resolved["services"]) == SERVICES
    for service, command in AIRFLOW_SERVICES.items():
        spec = resolved["services"][service]
        assert spec["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        if command:
            assert spec["command"] == command
        env = environment(resolved, service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://airflow:{dotenv['POSTGRES_PASSWORD']}@postgres:5432/airflow"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
        assert env["AIRFLOW__CORE__FERNET_KEY"] == dotenv["AIRFLOW_FERNET_KEY"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == dotenv["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__API__SECRET_KEY"] == dotenv["AIRFLOW_API_SECRET_KEY"]
        depends_on = spec["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}
        assert depends_on["minio-buckets"] == {"condition": "service_completed_successfully"}
        if service != "airflow-init":
            assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}
    assert resolved["services"]["airflow-init"]["command"] == [
        "bash",
        "/opt/billflow/deploy/compose/airflow-init.sh",
    ]


def test_billflow_is_configured_by_environment_in_every_airflow_service(resolved):
    for service in AIRFLOW_SERVICES:
        env = environment(resolved, service)
        assert {name: env.get(name) for name in BILLFLOW_SETTINGS} == BILLFLOW_SETTINGS, service
        # the FOCUS export stays on the billflow-data volume ($BILLFLOW_HOME/exports): no bucket for it
        assert "BILLFLOW_EXPORT_URI" not in env
        assert env["BILLFLOW_HOME"] == "/opt/billflow/data"


def test_every_variable_the_compose_dbt_profile_reads_is_set(resolved):
    read_by_profile = set(re.findall(r"env_var\('(BILLFLOW_[A-Z_]+)'", COMPOSE_PROFILE.read_text()))
    assert {"BILLFLOW_PG_HOST", "BILLFLOW_PG_USER", "BILLFLOW_PG_PASSWORD", "BILLFLOW_PG_DBNAME"} <= read_by_profile
    assert "env_var('BILLFLOW_PG_PASSWORD', '')" in COMPOSE_PROFILE.read_text()  # no password built in
    for service in AIRFLOW_SERVICES:
        env = environment(resolved, service)
        missing = sorted(name for name in read_by_profile - {"BILLFLOW_DBT_TARGET"} if not env.get(name))
        assert missing == [], f"{service} lacks {missing}"
        assert env["BILLFLOW_PG_HOST"] == "postgres"
        assert (ROOT / env["BILLFLOW_DBT_PROFILES_DIR"].replace("/opt/billflow/", "") / "profiles.yml").is_file()


def test_airflow_reaches_minio_as_billflows_own_user_never_the_root_account(resolved, dotenv):
    from airflow.models.connection import Connection

    buckets = environment(resolved, "minio-buckets")
    app_key, app_secret = dotenv["MINIO_BILLFLOW_ACCESS_KEY"], dotenv["MINIO_BILLFLOW_SECRET_KEY"]
    assert (buckets["MINIO_BILLFLOW_ACCESS_KEY"], buckets["MINIO_BILLFLOW_SECRET_KEY"]) == (app_key, app_secret)
    assert app_key != buckets["MINIO_ROOT_USER"]
    for service in AIRFLOW_SERVICES:
        env = environment(resolved, service)
        aws = Connection.from_json(env["AIRFLOW_CONN_AWS_DEFAULT"], conn_id="aws_default")
        assert (aws.conn_type, aws.login, aws.password) == ("aws", app_key, app_secret)
        assert aws.extra_dejson == {"endpoint_url": "http://minio:9000", "region_name": "us-east-1"}
        # dbt-duckdb's s3fs reads the plain SDK variables: the same user
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (app_key, app_secret)
        assert env["AWS_ENDPOINT_URL_S3"] == "http://minio:9000"


def test_only_minio_and_the_one_shot_bucket_service_hold_the_minio_root_password(resolved, dotenv):
    root_password = dotenv["MINIO_ROOT_PASSWORD"]
    holders = {
        service
        for service in resolved["services"]
        if any(root_password in value for value in environment(resolved, service).values())
    }
    assert holders == {"minio", "minio-buckets"}


def test_only_airflow_init_holds_the_admin_password(resolved, dotenv):
    password = dotenv["AIRFLOW_ADMIN_PASSWORD"]
    holders = {
        service
        for service in resolved["services"]
        if any(password in value for value in environment(resolved, service).values())
    }
    assert holders == {"airflow-init"}
    assert environment(resolved, "airflow-init")["AIRFLOW_ADMIN_PASSWORD"] == password


def test_the_serving_connection_and_dbt_use_the_serving_database_credentials(resolved, dotenv):
    from airflow.models.connection import Connection

    env = environment(resolved, "airflow-scheduler")
    postgres = environment(resolved, "postgres")
    assert postgres["POSTGRES_PASSWORD"] == dotenv["POSTGRES_PASSWORD"]
    assert postgres["BILLFLOW_PG_PASSWORD"] == dotenv["BILLFLOW_PG_PASSWORD"]

    serving = Connection.from_json(env["AIRFLOW_CONN_BILLFLOW_SERVING"], conn_id="billflow_serving")
    assert (serving.conn_type, serving.host, serving.port) == ("postgres", "postgres", 5432)
    assert (serving.login, serving.password, serving.schema) == (
        postgres["BILLFLOW_PG_USER"],
        dotenv["BILLFLOW_PG_PASSWORD"],
        postgres["BILLFLOW_PG_DBNAME"],
    )
    # dbt's serving target and the billflow_serving connection reach the same database as the same user
    assert (env["BILLFLOW_PG_USER"], env["BILLFLOW_PG_PASSWORD"], env["BILLFLOW_PG_DBNAME"]) == (
        serving.login,
        serving.password,
        serving.schema,
    )


def test_postgres_creates_the_serving_database_and_minio_buckets_runs_the_minio_init_script(compose):
    postgres = compose["services"]["postgres"]
    assert "./deploy/compose/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert POSTGRES_INIT.is_file() and POSTGRES_INIT.stat().st_mode & 0o111
    assert {"POSTGRES_USER", "POSTGRES_DB", "BILLFLOW_PG_USER", "BILLFLOW_PG_PASSWORD", "BILLFLOW_PG_DBNAME"} <= set(
        postgres["environment"]
    )
    buckets = compose["services"]["minio-buckets"]
    assert buckets["image"].split(":")[0].endswith("minio/mc")
    assert buckets["depends_on"] == {"minio": {"condition": "service_started"}}
    assert buckets["volumes"] == ["./deploy/compose/minio-init:/billflow-minio-init:ro"]
    assert (buckets["entrypoint"], buckets["command"]) == (["/bin/sh"], ["/billflow-minio-init/minio-init.sh"])
    assert set(buckets["environment"]) == {
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "MINIO_BILLFLOW_ACCESS_KEY",
        "MINIO_BILLFLOW_SECRET_KEY",
    }
    assert "mc mb --ignore-existing root/billflow-landing root/billflow-staged" in MINIO_INIT.read_text()


def test_the_init_scripts_migrate_create_the_pools_and_parse():
    script = AIRFLOW_INIT.read_text()
    assert "airflow db migrate" in script
    assert re.search(r"airflow pools set billflow_duckdb 1 ", script)
    assert re.search(r"airflow pools set billflow_staging 4 ", script)
    assert 'bash "$(dirname "$0")/write-passwords-file.sh"' in script
    for shell, path in (
        ("bash", AIRFLOW_INIT),
        ("bash", POSTGRES_INIT),
        ("bash", PASSWORDS_FILE_SCRIPT),
        ("sh", MINIO_INIT),
    ):
        done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{path}: {done.stderr}"


def test_the_image_installs_the_package_and_builds_the_dbt_manifest():
    dockerfile = DOCKERFILE.read_text()
    assert re.findall(r"^FROM .*$", dockerfile, re.MULTILINE) == ["FROM python:3.11-slim"]
    assert "-r requirements.txt" in dockerfile
    assert re.search(r"pip install .*-e \.", dockerfile)
    for folder in ("dags", "plugins", "dbt_project", "expectations", "deploy/compose"):
        assert f"COPY {folder}/ {folder}/" in dockerfile
    assert "dbt parse --profiles-dir profiles/compose" in dockerfile
    assert "WORKDIR /opt/billflow" in dockerfile
    # the auth volume takes its mode from the image: the login passwords file's folder is airflow's only
    assert "chmod 0700 /opt/airflow/auth" in dockerfile
