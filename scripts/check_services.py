"""Stop `make test` at once, with a clear message, when PostgreSQL or Redis is not reachable."""

import os
import socket
import sys
from urllib.parse import urlparse

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
}


def check_postgres() -> str | None:
    import psycopg

    try:
        with psycopg.connect(DATABASE_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure is reported as is
        return str(exc).strip().splitlines()[0]
    return None


def check_redis() -> str | None:
    url = urlparse(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return str(exc)
    if not reply.startswith(b"+PONG"):
        return f"unexpected reply {reply!r}"
    return None


def main() -> int:
    failures = []
    for name, url, check in (("PostgreSQL", DATABASE_URL, check_postgres), ("Redis", REDIS_URL, check_redis)):
        error = check()
        if error:
            shown = (
                urlparse(url)
                ._replace(netloc=urlparse(url).hostname + f":{urlparse(url).port or ''}")
                .geturl()
            )
            failures.append(
                f"{name} is not reachable at {shown}: {error}\n  start it with: {HOW_TO_START[name]}\n"
                f"  or point {'DATABASE_URL' if name == 'PostgreSQL' else 'REDIS_URL'} at a running one."
            )
    if failures:
        print("make test needs real PostgreSQL and Redis:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
