"""Servers the integration tests run against, started by the tests themselves (no Docker).

`postgres_server`: a throw-away PostgreSQL cluster from this machine's server binaries (Debian's
postgresql-15 package: /usr/lib/postgresql/15/bin). initdb refuses to run as root, so as root the
cluster belongs to the `postgres` user (runuser). The tests fail, never skip, when the binaries are
missing: the serving database of the compose and AWS deployments is PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from billflow_dev.aws import postgres


def free_port() -> int:
    return postgres.free_port()


def find_pg_bindir() -> Path:
    try:
        return postgres.find_pg_bindir()
    except postgres.PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    bindir: Path
    socket_dir: Path
    _scratch: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname_safe(dbname)}"

    @staticmethod
    def dbname_safe(dbname: str) -> str:
        if not dbname.replace("_", "").isalnum():
            raise ValueError(f"unexpected database name {dbname!r}")
        return dbname

    def connect(self, dbname: str = "postgres", driver: str = "psycopg2"):
        """A DB-API connection; PostgresHook.get_conn() hands out psycopg 3 ones when psycopg is installed."""
        if driver == "psycopg2":
            import psycopg2

            return psycopg2.connect(self.dsn(dbname))
        if driver == "psycopg3":
            import psycopg

            return psycopg.connect(self.dsn(dbname))
        raise ValueError(f"unknown driver {driver!r}")

    def scratch_database(self) -> str:
        """One empty database for the session's queries that create nothing (`dbt show`)."""
        if "name" not in self._scratch:
            self._scratch["name"] = self.create_database("scratch")
        return self._scratch["name"]

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database (one per test keeps tests independent)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = self.connect()
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f"create database {self.dbname_safe(name)} template template0")
        finally:
            admin.close()
        return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on a free 127.0.0.1 port for the test session (trust auth, user postgres):
    billflow_dev.aws.postgres, which the tests fail, never skip, without."""
    try:
        with postgres.postgres_cluster(Path(tempfile.mkdtemp(prefix="billflow-test-pg-"))) as cluster:
            yield PostgresServer(cluster.host, cluster.port, cluster.user, cluster.bindir, cluster.socket_dir)
    except postgres.PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)


# ---------------------------------------------------------------- MariaDB (the portal's Aurora MySQL)

MARIADB_HINT = "on Debian/Ubuntu: apt-get install mariadb-server (.ci/run installs it when missing)"


@dataclass(frozen=True)
class MariaDBServer:
    host: str
    port: int

    def connect(self, database: str | None = None):
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user="root", database=database, autocommit=True)

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database (one per test keeps tests independent)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"create database `{name}` character set utf8mb4")
        finally:
            connection.close()
        return name


def _mariadb_binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).is_file()), None
    )
    if not found:
        pytest.fail(f"MariaDB's {name} not found; {MARIADB_HINT}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB server from this machine's binaries on a free 127.0.0.1 port for the test session, without
    grant tables (any user, no password): a throw-away server of the tests alone."""
    import time

    import pymysql

    install_db, mariadbd = _mariadb_binary("mariadb-install-db"), _mariadb_binary("mariadbd")
    base = Path(tempfile.mkdtemp(prefix="billflow-test-mariadb-"))
    user = pwd.getpwuid(os.geteuid()).pw_name
    done = subprocess.run(
        [install_db, "--no-defaults", f"--datadir={base / 'data'}", f"--user={user}", "--skip-test-db"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"mariadb-install-db failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}", pytrace=False)
    port = free_port()
    server = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={base / 'data'}",
            f"--socket={base / 'mariadb.sock'}",
            f"--pid-file={base / 'mariadb.pid'}",
            f"--log-error={base / 'error.log'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-grant-tables",
            f"--user={user}",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mariadb = MariaDBServer("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                mariadb.connect().close()
                break
            except pymysql.err.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (base / "error.log").read_text(errors="replace")[-3000:]
                        if (base / "error.log").exists()
                        else ""
                    )
                    pytest.fail(f"MariaDB did not start on port {port}:\n{log}", pytrace=False)
                time.sleep(0.2)
        yield mariadb
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(base, ignore_errors=True)
