"""What a newcomer meets first: `make run` prints the demo accounts before anything else (who already has an
approved filing, which counter settles for whom), no task chatter; and every page has the site icon."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import ReviewerFactory

FAILING_TASK = """
from config.celery import app

@app.task(name="first_run.fails")
def fails():
    raise RuntimeError("a real error must still be seen")

fails.delay()
"""


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """`make run`'s steps on a fresh SQLite file, with stdout and stderr interleaved as a terminal shows them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    database = tmp_path_factory.mktemp("first-run") / "db.sqlite3"
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=f"sqlite:///{database}")
    env["PYTHONUNBUFFERED"] = "1"

    def manage(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout
        return result.stdout

    return manage("migrate", "--noinput", "-v", "0") + manage("seed_demo"), manage


def row(lines, start):
    return next(line for line in lines if line.strip().startswith(start))


def test_the_demo_accounts_come_first_and_no_task_logs(first_run):
    out, _manage = first_run
    lines = out.splitlines()
    assert lines[0].startswith("Demo accounts"), out[:500]
    assert not [line for line in lines if line.startswith("Task ") or "succeeded in" in line]
    assert "No hostname was supplied" not in out
    # Warnings raised while seeding are shown, after the accounts.
    assert out.index("development signing key generated") > out.index("Administrator: admin")


def test_the_accounts_say_who_has_an_approved_filing_and_where_it_settles(first_run):
    lines = first_run[0].splitlines()
    assert "approved, for 海南省三亚市" in row(lines, "13800000001") and "1 settled" in row(
        lines, "13800000001"
    )
    assert "approved, for 北京市" in row(lines, "13800000003")
    assert "none yet" in row(lines, "13800000002")
    # Counters say for whom they settle directly: the worker files for Beijing, the retiree for Sanya.
    assert row(lines, "counter-h11010100001 ").endswith("13800000003")
    assert row(lines, "counter-h46020200001 ").endswith("13800000001")
    assert row(lines, "counter-h31010100001 ").endswith("-")
    header = row(lines, "phone ")
    assert header.split() == [
        "phone",
        "password",
        "group",
        "insured",
        "in",
        "ID",
        "number",
        "filing",
        "in",
        "force",
    ]


def test_quiet_tasks_still_report_their_errors(first_run):
    _out, manage = first_run
    shown = manage("shell", "-c", FAILING_TASK)
    assert "a real error must still be seen" in shown


@pytest.mark.django_db
@pytest.mark.embedded
def test_the_site_icon_answers_and_every_kind_of_page_names_it():
    client = Client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/x-icon" and icon.content[:4] == b"\x00\x00\x01\x00"
    assert "max-age" in icon["Cache-Control"]
    link = '<link rel="icon" href="/static/favicon.ico"'
    assert link in client.get("/admin/login/").content.decode()
    assert link in client.get("/login/").content.decode()
    client.force_login(ReviewerFactory(region_code="510100"))
    assert link in client.get("/admin/").content.decode()
