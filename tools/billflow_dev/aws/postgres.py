"""A throw-away PostgreSQL cluster from this machine's server binaries (Debian's postgresql-15 package:
/usr/lib/postgresql/15/bin), on a free 127.0.0.1 port with trust authentication: the integration tests'
server and `make demo-aws`'s stand-in for Redshift and Aurora PostgreSQL. initdb refuses to run as root,
so as root the cluster belongs to the `postgres` user (runuser)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = "on Debian/Ubuntu: apt-get install postgresql-15 (or postgresql)"


class PostgresUnavailable(RuntimeError):
    """The cluster cannot be started here (no binaries, no user to own it, initdb or pg_ctl failed)."""


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    bindir: Path
    socket_dir: Path


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
    raise PostgresUnavailable(
        f"PostgreSQL server binaries {', '.join(PG_BINARIES)} not found; looked in: {looked}. {INSTALL_HINT}"
    )


def _cluster_owner() -> pwd.struct_passwd | None:
    """None when we are not root; else the postgres user, who owns the cluster (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root but there is no `postgres` user to own the cluster; " + INSTALL_HINT
        ) from None


def _as_cluster_owner(argv: list[str]) -> list[str]:
    if _cluster_owner() is None:
        return argv
    runuser = shutil.which("runuser")
    if not runuser:
        raise PostgresUnavailable("running as root: runuser (util-linux) is needed to start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *argv]


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_cluster_owner(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@contextmanager
def postgres_cluster(base: Path) -> Iterator[Cluster]:
    """A new cluster in the empty folder `base` (user postgres, trust auth), stopped and removed on exit."""
    bindir = find_pg_bindir()
    base.mkdir(parents=True, exist_ok=True)
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
        yield Cluster("127.0.0.1", port, "postgres", bindir, base)
    finally:
        subprocess.run(
            _as_cluster_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
