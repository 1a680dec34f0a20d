#!/usr/bin/env python3
"""Write the .env of docker-compose.yml with a fresh random value for every secret (`make compose-env`).

docker-compose.yml has no default for any of these variables and refuses to start without them. The file is
created readable by its owner only. An existing .env is kept unless --force: the postgres-data volume holds
the Postgres passwords of the first start, so new ones would lock the stack out of its own database.

Standard library only: runs with any Python 3.9+, no virtualenv needed.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import string
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Letters and digits only: the values go into a database URL, JSON connection strings and mc's command
# line (where a leading '-' would read as a flag), with nothing to escape.
LETTERS_AND_DIGITS = string.ascii_letters + string.digits
UPPER_AND_DIGITS = string.ascii_uppercase + string.digits


def random_text(length: int, alphabet: str = LETTERS_AND_DIGITS) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def fernet_key() -> str:
    """Airflow's Fernet key: 32 random bytes, urlsafe base64 (what cryptography's Fernet.generate_key gives)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


SECRETS = {
    # Postgres superuser (owns the Airflow metadata database) and billflow's serving database role
    "POSTGRES_PASSWORD": lambda: random_text(40),
    "BILLFLOW_PG_PASSWORD": lambda: random_text(40),
    # MinIO's root account (used only by the minio-buckets service) and billflow's own MinIO user;
    # MinIO names a user by its access key: 20 upper-case letters and digits, as MinIO generates them
    "MINIO_ROOT_PASSWORD": lambda: random_text(40),
    "MINIO_BILLFLOW_ACCESS_KEY": lambda: random_text(20, UPPER_AND_DIGITS),
    "MINIO_BILLFLOW_SECRET_KEY": lambda: random_text(40),
    # Airflow: connection encryption, token signing shared by its components, the UI login
    "AIRFLOW_FERNET_KEY": fernet_key,
    "AIRFLOW_JWT_SECRET": lambda: random_text(64),
    "AIRFLOW_API_SECRET_KEY": lambda: random_text(64),
    "AIRFLOW_ADMIN_PASSWORD": lambda: random_text(24),
}


def render() -> str:
    written = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017 (datetime.UTC: 3.11+)
    lines = [
        f"# docker compose secrets, written by deploy/compose/generate_env.py (make compose-env) at {written}.",
        "# Readable by its owner only: never commit or share it. The postgres-data volume keeps the Postgres",
        "# passwords of the first start. Other settings (ports, bind address, user and database names) have",
        "# defaults in docker-compose.yml; .env.example lists them: add a line here to change one.",
    ]
    lines += [f"{name}={make()}" for name, make in SECRETS.items()]
    return "\n".join(lines) + "\n"


def write_env(path: Path, force: bool) -> None:
    """Create `path` with mode 0600 from the start; replace an existing file only when `force`."""
    text = render()
    os.umask(0o077)
    if not force:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # FileExistsError when present
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return
    # mkstemp creates 0600; the rename swaps the whole file at once, never leaving a half-written .env
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / ".env", help="the file to write (default: %(default)s)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file (the postgres-data volume keeps the old passwords: see README)",
    )
    args = parser.parse_args(argv)
    try:
        write_env(args.output, args.force)
    except FileExistsError:
        print(
            f"{args.output} exists: kept unchanged (the postgres-data volume holds its passwords). "
            "To replace it: python3 deploy/compose/generate_env.py --force",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {args.output} (mode 0600): {', '.join(SECRETS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
