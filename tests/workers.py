"""A real Celery worker and a real Redis broker for the tests that need delivery to happen for real.

The broker is a redis-server of our own on a free port, so it can be stopped and started again without
touching the machine's Redis. The worker runs `tests.notifications.worker_settings` (the test settings, with
notifications written to files in an outbox directory) against the pytest database; the rows it must see are
committed, so its tests are transactional.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from config.celery import app as celery_app
from tests.notifications.conftest import FILE_PROVIDER

ROOT = Path(settings.BASE_DIR)
WAIT_SECONDS = 60


def _free_port(start: int = 6390) -> int:
    for port in range(start, start + 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a test redis-server")


def wait_for(condition, *, timeout: float = WAIT_SECONDS, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stop(process: subprocess.Popen | None, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class RedisServer:
    """A throw-away redis-server without persistence: stopping it loses whatever it held."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail(
                "These tests start their own redis-server: install it (Debian: apt-get install redis-server)."
            )
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._accepts, timeout=10, interval=0.05, what="redis-server to accept connections")

    def stop(self) -> None:
        _stop(self.process, timeout=5)
        wait_for(lambda: not self._accepts(), timeout=5, interval=0.05, what="redis-server to stop")


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# The worker the tests run: four threads, none of the cluster features (quicker to start and stop).
WORKER_COMMAND = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "config",
    "worker",
    "-l",
    "warning",
    "-P",
    "threads",
    "-c",
    "4",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
]


class Worker:
    """A `celery worker` subprocess; its log is kept for failure messages.

    With `restart_sec`, a thread supervises it as systemd's `Restart=always` does (deploy/systemd): whenever it
    exits, it is started again after that many seconds; `restarts` counts how often.
    """

    def __init__(
        self,
        *,
        broker: RedisServer,
        outbox: Path,
        command: list[str] | None = None,
        restart_sec: float | None = None,
        **environment: str,
    ) -> None:
        self.log_path = outbox / "worker.log"
        self.log_path.write_bytes(b"")
        self.command = command or WORKER_COMMAND
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": broker.url,
            "CELERY_BROKER_URL": broker.url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "NOTIFICATION_OUTBOX_DIR": str(outbox),
            "NOTIFICATION_SMS_BACKEND": FILE_PROVIDER,
            "NOTIFICATION_WECHAT_BACKEND": FILE_PROVIDER,
            **environment,
        }
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = False
        self.process = self._spawn()
        self._supervisor = None
        if restart_sec is not None:
            self._supervisor = threading.Thread(target=self._supervise, args=(restart_sec,), daemon=True)
            self._supervisor.start()

    def _spawn(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def _supervise(self, restart_sec: float) -> None:
        while True:
            self.process.wait()
            time.sleep(restart_sec)
            with self._lock:
                if self._stopping:
                    return
                self.restarts += 1
                self.process = self._spawn()

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        _stop(self.process)
        if self._supervisor is not None:
            self._supervisor.join(timeout=30)


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    # This process publishes to the same broker, for real (not eagerly).
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = server.url, False
    _reset_broker_connections()
    yield server
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
    _reset_broker_connections()
    server.stop()


def _reset_broker_connections() -> None:
    # Celery caches its broker connection pool on first publish; drop it so the next one uses the new URL.
    kombu_pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
