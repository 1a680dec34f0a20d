"""Airflow must be configured before it is first imported: point it at a throw-away home for the session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="billflow-test-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["BILLFLOW_TASK_RETRIES"] = "0"  # a failing task fails the dag.test() run at once
# never the home make exports for the demo (BILLFLOW_HOME=.billflow): the tests write only where they run
os.environ["BILLFLOW_HOME"] = tempfile.mkdtemp(prefix="billflow-test-home-")


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """An initialised Airflow metadata database (SQLite) for dag.test() runs, in this worker's AIRFLOW_HOME.

    `airflow db migrate` (about 8 s) runs once per session: the first worker to need it migrates a database
    in the folder the workers share, and each worker copies that file."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    migrated = shared / "airflow-migrated" / "airflow.db"
    with FileLock(str(shared / "airflow-migrated.lock")):
        if not migrated.exists():
            migrate_airflow_db(migrated.parent)
    home = Path(os.environ["AIRFLOW_HOME"])
    shutil.copyfile(migrated, home / "airflow.db")
    return home


def migrate_airflow_db(home: Path) -> None:
    """`airflow db migrate` of a new SQLite database at home/airflow.db (written under a temporary name and
    renamed, so a half-migrated file is never taken for a finished one)."""
    home.mkdir(parents=True, exist_ok=True)
    scratch = home / "migrating"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    airflow = Path(sys.executable).with_name("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(scratch)}
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (scratch / "airflow.db").rename(home / "airflow.db")


def reused_home(tmp_path_factory: pytest.TempPathFactory, name: str = "home") -> Path:
    """A home at one path per test worker, emptied for each test but for its dbt target folder.

    dbt parses the whole project again (about 5 s) whenever its profile changes, and the DuckDB paths in the
    profile follow BILLFLOW_HOME. At one path per worker, each test's dbt runs reuse the parse of the test
    before (dbt's partial parsing). The last test's home stays for inspection."""
    home = tmp_path_factory.getbasetemp() / name
    if home.exists():
        for entry in home.iterdir():
            if entry.name == "dbt-target":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    home.mkdir(exist_ok=True)
    return home
