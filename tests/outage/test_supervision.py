"""The deployment supervises web, worker and beat (deploy/systemd): the unit files are valid, restart always, and
a worker that dies is started again and catches up with what it left."""

import configparser
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from notifications.services import notification_create
from notifications.tasks import sweep_pending
from tests.factories import person_factory
from tests.notifications.test_worker import _all_settled, _assert_each_delivery_sent_exactly_once
from tests.workers import Worker, wait_for

ROOT = Path(settings.BASE_DIR)
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_AT = "/srv/yibao"
NAMES = ("yibao-web.service", "yibao-worker.service", "yibao-beat.service")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def _exec_start(name: str) -> list[str]:
    return shlex.split(_unit(name)["Service"]["ExecStart"])


@pytest.mark.parametrize("name", NAMES)
def test_each_unit_restarts_its_process_whenever_it_exits(name):
    unit = _unit(name)
    service = unit["Service"]
    assert service["Restart"] == "always" and float(service["RestartSec"]) > 0
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"  # never gives up, however long an outage lasts
    assert service["EnvironmentFile"] == "/etc/yibao/yibao.env"
    assert service["WorkingDirectory"] == INSTALLED_AT
    assert _exec_start(name)[0].startswith(f"{INSTALLED_AT}/.venv/bin/")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_units_run_what_the_readme_says():
    assert _exec_start("yibao-worker.service")[1:4] == ["--app", "config", "worker"]
    beat = _exec_start("yibao-beat.service")
    assert beat[1:4] == ["--app", "config", "beat"] and "--schedule" in beat
    assert _exec_start("yibao-web.service")[1] == "config.wsgi"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"deploy/systemd/{name}" in readme
    example = (UNITS / "yibao.env.example").read_text(encoding="utf-8")
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in example


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    # Installed as the README says, with this checkout in place of /srv/yibao (systemd checks the commands).
    for name in NAMES:
        text = (UNITS / name).read_text(encoding="utf-8")
        text = text.replace(f"{INSTALLED_AT}/.venv/bin/", str(Path(sys.executable).parent) + "/")
        text = text.replace(INSTALLED_AT, str(ROOT))
        text = text.replace("/etc/yibao/yibao.env", str(UNITS / "yibao.env.example"))
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *[str(tmp_path / name) for name in NAMES]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Unknown keys or bad values are only warnings for systemd: any output at all is a failure here.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_restarted_and_delivers_what_it_left(broker, tmp_path, settings):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    settings.NOTIFICATION_OUTBOX_DIR = outbox
    # The worker unit's own command, under a supervisor that restarts it as Restart=always does.
    command = [sys.executable, "-m", "celery", *_exec_start("yibao-worker.service")[1:]]
    worker = Worker(
        broker=broker,
        outbox=outbox,
        command=command,
        restart_sec=0.5,
        NOTIFICATION_PENDING_TIMEOUT_SECONDS="1",
        NOTIFICATION_SENDING_TIMEOUT_SECONDS="2",
    )
    try:
        people = [person_factory(email=f"s{i}@example.com") for i in range(3)]
        notification_create(person=people[0], event="filing_submitted", context={"filing_id": 1})
        wait_for(_all_settled, what="the worker to deliver the first event")

        os.kill(worker.process.pid, signal.SIGKILL)
        for person in people[1:]:
            notification_create(person=person, event="filing_approved", context={"filing_id": person.pk})
        wait_for(lambda: worker.restarts == 1 and worker.running(), what="the supervisor to restart it")

        def delivered() -> bool:
            if not _all_settled():
                sweep_pending.delay()  # beat's job, every minute
                return False
            return True

        wait_for(delivered, interval=1.5, what="the restarted worker to deliver everything")
        _assert_each_delivery_sent_exactly_once(outbox, worker)
        assert worker.running() and worker.restarts == 1
    finally:
        worker.stop()
