"""A PostgreSQL primary and its streaming standby of our own, on loopback, for the tests of core.db.

The primary is a fresh cluster (initdb) on a free port holding a copy of the pytest database (pg_dump); the
standby is a `pg_basebackup` of it on another port, in hot standby, streaming from it. Both are thrown away
at the end of the session. The machine's own PostgreSQL is only read (the dump), never reconfigured.
Servers refuse to run as root: as root, they run as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

SERVER_TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
CLIENT_TOOLS = ("pg_dump", "psql")


def server_bin() -> Path | None:
    """The directory holding initdb, pg_ctl, pg_basebackup and postgres, or None when they are not installed."""
    candidates = []
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(os.path.realpath(found)).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if all((directory / tool).exists() for tool in SERVER_TOOLS):
            return directory
    return None


def missing_tools() -> list[str]:
    directory = server_bin()
    missing = [] if directory else list(SERVER_TOOLS)
    return missing + [
        tool
        for tool in CLIENT_TOOLS
        if not shutil.which(tool) and not (directory and (directory / tool).exists())
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """The primary and the standby; `primary_port`, `standby_port`, and control of the standby."""

    def __init__(self) -> None:
        self.bin = server_bin()
        self.root = Path(tempfile.mkdtemp(prefix="yibao-standby-"))
        self.primary_dir = self.root / "primary"
        self.standby_dir = self.root / "standby"
        self.primary_port = _free_port()
        self.standby_port = _free_port()
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)

    def _tool(self, name: str) -> str:
        local = self.bin / name
        return str(local) if local.exists() else shutil.which(name)

    def _server(self, *args: str) -> None:
        """Run a server tool, as `postgres` when we are root."""
        command = [self._tool(args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _configure(self, directory: Path, port: int) -> None:
        with (directory / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\nshared_buffers = 32MB\nmax_connections = 40\n"
                "wal_receiver_status_interval = 1s\nlogging_collector = off\n"
            )

    def start(self, *, database: str, source: dict) -> None:
        """The primary with a copy of `database` from the server `source` (HOST, PORT, USER), then the standby."""
        self._server(
            "initdb",
            "-D",
            str(self.primary_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        self._configure(self.primary_dir, self.primary_port)
        self._pg_ctl(self.primary_dir, "start")
        dump = subprocess.run(
            [
                self._tool("pg_dump"),
                "-h",
                source["HOST"] or "127.0.0.1",
                "-p",
                str(source["PORT"] or 5432),
                "-U",
                source["USER"] or "postgres",
                "--no-owner",
                "--no-privileges",
                "-d",
                database,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        ).stdout
        with psycopg.connect(self.dsn(self.primary_port, "postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        subprocess.run(
            [
                self._tool("psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary_port),
                "-U",
                "postgres",
                "-d",
                database,
            ],
            input=dump,
            check=True,
            capture_output=True,
            timeout=300,
        )
        self._server(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(self.standby_dir),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        self._configure(self.standby_dir, self.standby_port)
        self.start_standby()

    def _pg_ctl(self, directory: Path, action: str) -> None:
        args = ["pg_ctl", "-D", str(directory), "-w", "-t", "60"]
        if action == "start":
            args += ["-l", str(self.root / f"{directory.name}.log"), "start"]
        else:
            args += ["-m", "fast", "stop"]
        self._server(*args)

    def start_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn(self.standby_port, "postgres"), connect_timeout=2) as conn:
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        raise AssertionError("the standby did not start")

    def stop_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "stop")

    def standby_running(self) -> bool:
        return (self.standby_dir / "postmaster.pid").exists()

    def stop(self) -> None:
        for directory in (self.standby_dir, self.primary_dir):
            if (directory / "postmaster.pid").exists():
                self._server("pg_ctl", "-D", str(directory), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def dsn(port: int, database: str) -> str:
        return f"host=127.0.0.1 port={port} user=postgres dbname={database}"

    # --- Replication control ---

    def standby_sql(self, sql: str, database: str = "postgres"):
        with psycopg.connect(self.dsn(self.standby_port, database), autocommit=True) as conn:
            return conn.execute(sql).fetchone()

    def catch_up(self, database: str, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary wrote so far."""
        with psycopg.connect(self.dsn(self.primary_port, database), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replayed = self.standby_sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0]
            if replayed:
                return
            time.sleep(0.05)
        raise AssertionError("the standby did not catch up")

    def pause_replay(self) -> None:
        """From now on the standby receives the primary's writes but does not apply them: it lags."""
        self.standby_sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.standby_sql("SELECT pg_wal_replay_resume()")
