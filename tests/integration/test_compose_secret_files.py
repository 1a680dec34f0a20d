"""The compose stack's secret files: the .env that `make compose-env` writes (deploy/compose/generate_env.py)
and the Airflow login passwords file that airflow-init.sh writes (deploy/compose/write-passwords-file.sh).
Both are run for real here, in temporary folders, and must come out readable by their owner only.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.integration.test_compose_file import COMPOSE_FILE, SECRETS, interpolate_tree, read_env_file, references

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
GENERATE_ENV = COMPOSE_DIR / "generate_env.py"
PASSWORDS_FILE_SCRIPT = COMPOSE_DIR / "write-passwords-file.sh"
AIRFLOW_INIT = COMPOSE_DIR / "airflow-init.sh"

LETTERS_AND_DIGITS = re.compile(r"[A-Za-z0-9]+")


def generate(output: Path, *flags: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    """Run the generator as `make compose-env` does, under the given umask."""
    return subprocess.run(
        [sys.executable, str(GENERATE_ENV), "--output", str(output), *flags],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(umask),
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the .env generator -----------------------------------------------------------------------------


def test_the_generator_writes_every_secret_the_compose_file_requires_and_nothing_else(tmp_path):
    import yaml

    done = generate(tmp_path / ".env")

    assert done.returncode == 0, done.stderr
    written = read_env_file(tmp_path / ".env")
    required = {
        match["name"] for match in references(yaml.safe_load(COMPOSE_FILE.read_text())) if match["operator"] == ":?"
    }
    assert set(written) == required == SECRETS
    missing = []
    interpolate_tree(yaml.safe_load(COMPOSE_FILE.read_text()), written, missing)
    assert missing == []


def test_generated_values_are_distinct_and_new_on_every_run(tmp_path):
    assert generate(tmp_path / "one.env").returncode == 0
    assert generate(tmp_path / "two.env").returncode == 0
    one, two = read_env_file(tmp_path / "one.env"), read_env_file(tmp_path / "two.env")

    assert len(set(one.values())) == len(one)
    assert all(one[name] != two[name] for name in SECRETS)


def test_generated_values_have_the_form_their_consumers_need(tmp_path):
    assert generate(tmp_path / ".env").returncode == 0
    env = read_env_file(tmp_path / ".env")

    fernet_key = env.pop("AIRFLOW_FERNET_KEY")
    assert len(base64.urlsafe_b64decode(fernet_key)) == 32
    assert Fernet(fernet_key).decrypt(Fernet(fernet_key).encrypt(b"connection")) == b"connection"
    # MinIO: access key 3-20 characters (upper case and digits, as MinIO makes them), secret key 8-40
    assert re.fullmatch(r"[A-Z0-9]{20}", env["MINIO_BILLFLOW_ACCESS_KEY"])
    lengths = {name: len(value) for name, value in env.items()}
    assert lengths == {
        "POSTGRES_PASSWORD": 40,
        "BILLFLOW_PG_PASSWORD": 40,
        "MINIO_ROOT_PASSWORD": 40,
        "MINIO_BILLFLOW_ACCESS_KEY": 20,
        "MINIO_BILLFLOW_SECRET_KEY": 40,
        "AIRFLOW_JWT_SECRET": 64,
        "AIRFLOW_API_SECRET_KEY": 64,
        "AIRFLOW_ADMIN_PASSWORD": 24,
    }
    # nothing to escape in a database URL, a JSON connection or mc's command line
    assert all(LETTERS_AND_DIGITS.fullmatch(value) for value in env.values())


def test_the_env_file_is_created_readable_by_its_owner_only_whatever_the_umask(tmp_path):
    done = generate(tmp_path / ".env", umask=0)

    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / ".env") == 0o600
    assert (tmp_path / ".env").stat().st_uid == os.getuid()


def test_the_env_file_gets_its_mode_at_creation_not_from_a_chmod_after_writing(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("generate_env", GENERATE_ENV)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def no_chmod(*args, **kwargs):
        raise AssertionError("the file must be created 0600, not widened then narrowed")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    previous = os.umask(0)
    try:
        module.write_env(tmp_path / ".env", force=False)
        module.write_env(tmp_path / ".env", force=True)
    finally:
        os.umask(previous)
    monkeypatch.undo()
    assert mode(tmp_path / ".env") == 0o600


def test_an_existing_env_is_never_overwritten_without_force(tmp_path):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=kept\n")

    done = generate(env)

    assert done.returncode == 1
    assert done.stderr == (
        f"{env} exists: kept unchanged (the postgres-data volume holds its passwords). "
        "To replace it: python3 deploy/compose/generate_env.py --force\n"
    )
    assert env.read_text() == "POSTGRES_PASSWORD=kept\n"


def test_force_replaces_the_env_with_new_values_readable_by_its_owner_only(tmp_path):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=old\n")
    env.chmod(0o644)

    done = generate(env, "--force")

    assert done.returncode == 0, done.stderr
    assert mode(env) == 0o600
    assert set(read_env_file(env)) == SECRETS
    assert read_env_file(env)["POSTGRES_PASSWORD"] != "old"
    assert [path.name for path in tmp_path.iterdir()] == [".env"]  # no temporary file left behind


# --- the Airflow login passwords file ---------------------------------------------------------------


def write_passwords_file(path: Path, user: str, password: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRFLOW_ADMIN_USER": user, "AIRFLOW_ADMIN_PASSWORD": password}
    return subprocess.run(
        ["bash", str(PASSWORDS_FILE_SCRIPT), str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_the_passwords_file_is_written_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "auth" / "simple_auth_manager_passwords.json"

    done = write_passwords_file(path, "admin", "s3cret")

    assert done.returncode == 0, done.stderr
    assert json.loads(path.read_text()) == {"admin": "s3cret"}
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # created under umask 077 too
    assert path.stat().st_uid == os.getuid()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_passwords_file_left_readable_by_others_is_replaced_by_an_owner_only_one(tmp_path):
    path = tmp_path / "simple_auth_manager_passwords.json"
    path.write_text('{"admin": "old"}')
    path.chmod(0o644)

    done = write_passwords_file(path, "ops", 'quote" and $dollar')

    assert done.returncode == 0, done.stderr
    assert json.loads(path.read_text()) == {"ops": 'quote" and $dollar'}
    assert mode(path) == 0o600


def test_the_passwords_file_script_refuses_to_run_without_a_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_ADMIN_PASSWORD"}
    done = subprocess.run(
        ["bash", str(PASSWORDS_FILE_SCRIPT), str(tmp_path / "passwords.json")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "AIRFLOW_ADMIN_PASSWORD" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_airflow(tmp_path) -> Path:
    """An `airflow` command that records its arguments and succeeds: airflow-init.sh runs without Airflow."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "airflow").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/airflow-calls\n')
    (folder / "airflow").chmod(0o755)
    return folder


def test_airflow_init_writes_the_passwords_file_readable_by_its_owner_only(tmp_path, fake_airflow):
    path = tmp_path / "auth" / "simple_auth_manager_passwords.json"
    env = {
        **os.environ,
        "PATH": f"{fake_airflow}:{os.environ['PATH']}",
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "from-dotenv",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(path),
        "BILLFLOW_SERVING_CONN_ID": "billflow_serving",
    }

    done = subprocess.run(
        ["bash", str(AIRFLOW_INIT)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(path.read_text()) == {"admin": "from-dotenv"}
    assert mode(path) == 0o600
    assert (tmp_path / "airflow-calls").read_text().splitlines()[0] == "db migrate"
    assert "from-dotenv" not in done.stdout + done.stderr + (tmp_path / "airflow-calls").read_text()
