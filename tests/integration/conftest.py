"""Servers the integration tests run against, started by the tests themselves (no Docker).

`postgres_server`: a throw-away PostgreSQL cluster from this machine's server binaries (Debian's
postgresql-15 package: /usr/lib/postgresql/15/bin). initdb refuses to run as root, so as root the
cluster belongs to the `postgres` user (runuser). The tests fail, never skip, when the binaries are
missing: the serving database of the compose and AWS deployments is PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = "on Debian/Ubuntu: apt-get install postgresql-15 (or postgresql)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_binaries(bindir: str | Path) -> bool:
    return all((Path(bindir) / name).is_file() for name in PG_BINARIES)


def find_pg_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: pg_config --bindir, the Debian folders, then PATH."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            candidates.append(done.stdout.strip())
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)[::-1]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for bindir in candidates:
        if _has_binaries(bindir):
            return Path(bindir)
    looked = ", ".join(candidates) or "(pg_config not on PATH, no /usr/lib/postgresql/*/bin, no initdb on PATH)"
    pytest.fail(
        f"PostgreSQL server binaries {', '.join(PG_BINARIES)} not found; looked in: {looked}. {INSTALL_HINT}",
        pytrace=False,
    )


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


def _cluster_owner() -> pwd.struct_passwd | None:
    """None when we are not root; else the postgres user, who owns the cluster (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root but there is no `postgres` user to own the test cluster; " + INSTALL_HINT)


def _as_cluster_owner(argv: list[str]) -> list[str]:
    if _cluster_owner() is None:
        return argv
    runuser = shutil.which("runuser")
    if not runuser:
        pytest.fail("running as root: runuser (util-linux) is needed to start PostgreSQL as the postgres user")
    return [runuser, "-u", "postgres", "--", *argv]


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_cluster_owner(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on a free 127.0.0.1 port for the test session (trust auth, user postgres)."""
    bindir = find_pg_bindir()
    base = Path(tempfile.mkdtemp(prefix="billflow-test-pg-"))
    owner = _cluster_owner()
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"
    _run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N"],
        "initdb",
    )
    port = free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
    )
    pg_ctl = str(bindir / "pg_ctl")
    _run([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"], "pg_ctl start")
    try:
        yield PostgresServer("127.0.0.1", port, "postgres", bindir, base)
    finally:
        subprocess.run(
            _as_cluster_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


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
