"""A test-only TCP shim that lets the Redshift driver (redshift_connector, under dbt-redshift) talk to a
real PostgreSQL server, so the warehouse build runs through the dbt-redshift adapter and its own macros.

It is not Redshift and does not pretend to be: the SQL runs on PostgreSQL. The Redshift driver sends
startup parameters PostgreSQL refuses and then refuses PostgreSQL's version string
(../shared/docs/STACK.md, copied into docs/ARCHITECTURE.md's test notes). The shim, for each connection:

- answers an SSL or GSS encryption request with 'N' (no encryption on 127.0.0.1),
- removes the startup parameters only Redshift knows (`DROPPED_PARAMETERS`),
- reports `server_version` as 8.0.2 (Redshift's) in the ParameterStatus messages before the first
  ReadyForQuery,

then copies bytes both ways untouched.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress

SSL_REQUEST = 80877103
GSS_ENCRYPTION_REQUEST = 80877104
PROTOCOL_3 = 196608
DROPPED_PARAMETERS = frozenset(
    {"client_protocol_version", "driver_version", "os_version", "driver_discovery_version", "plugin_name"}
)
REDSHIFT_SERVER_VERSION = "8.0.2"


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            raise ConnectionError("peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _startup_message(client: socket.socket) -> bytes:
    """The client's StartupMessage, after refusing any encryption request, with Redshift's extras removed."""
    while True:
        (length,) = struct.unpack("!i", _read_exactly(client, 4))
        body = _read_exactly(client, length - 4)
        (code,) = struct.unpack("!i", body[:4])
        if code in (SSL_REQUEST, GSS_ENCRYPTION_REQUEST):
            client.sendall(b"N")
            continue
        if code != PROTOCOL_3:
            raise ConnectionError(f"unexpected startup code {code}")
        fields = body[4:].split(b"\0")
        pairs = list(zip(fields[0::2], fields[1::2], strict=False))
        kept = b"".join(
            key + b"\0" + value + b"\0" for key, value in pairs if key and key.decode() not in DROPPED_PARAMETERS
        )
        payload = struct.pack("!i", PROTOCOL_3) + kept + b"\0"
        return struct.pack("!i", len(payload) + 4) + payload


def _relay_until_ready(server: socket.socket, client: socket.socket) -> None:
    """Server messages to the client up to and including the first ReadyForQuery, server_version rewritten."""
    while True:
        kind = _read_exactly(server, 1)
        (length,) = struct.unpack("!i", _read_exactly(server, 4))
        body = _read_exactly(server, length - 4)
        if kind == b"S" and body.split(b"\0", 1)[0] == b"server_version":
            body = b"server_version\0" + REDSHIFT_SERVER_VERSION.encode() + b"\0"
        client.sendall(kind + struct.pack("!i", len(body) + 4) + body)
        if kind == b"Z":
            return


def _pump(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    for sock in (source, target):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class RedshiftProtocolShim:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to PostgreSQL at host:port."""

    def __init__(self, postgres_host: str, postgres_port: int) -> None:
        self.target = (postgres_host, postgres_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self.listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept, name="redshift-shim", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = None
        try:
            startup = _startup_message(client)
            server = socket.create_connection(self.target)
            for sock in (client, server):  # small protocol messages must not wait for Nagle's algorithm
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server.sendall(startup)
            # the client's authentication replies go straight through while the server's startup is relayed
            threading.Thread(target=_pump, args=(client, server), daemon=True).start()
            _relay_until_ready(server, client)
            _pump(server, client)
        except (OSError, ConnectionError):
            for sock in (client, server):
                if sock is not None:
                    with suppress(OSError):
                        sock.close()

    def close(self) -> None:
        with suppress(OSError):
            self.listener.close()


# Two Redshift system catalog objects dbt-redshift's column lookup reads (its legacy path, the one Redshift
# itself takes for views and temporary tables), created empty in the test's PostgreSQL database: there are
# no late-binding views and no Spectrum tables there. A superuser may create in pg_catalog with
# allow_system_table_mods for the session.
REDSHIFT_CATALOG_SQL = """
set allow_system_table_mods = on;
create or replace function pg_catalog.pg_get_late_binding_view_cols() returns setof record
language sql as 'select null::name, null::name, null::name, null::varchar, null::int where false';
create or replace view pg_catalog.svv_external_columns as
select null::name as schemaname, null::name as tablename, null::name as columnname,
       null::varchar as external_type, null::int as columnnum, null::int as part_key,
       null::varchar as is_nullable
where false;
reset allow_system_table_mods;
"""
