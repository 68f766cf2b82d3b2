"""The embedded default (SQLite, tasks in-process, `make run`): a settlement's deferred supervision check runs
right after the commit, and /readyz says ok with the broker in process."""

import json
import os
import subprocess
import sys

from django.conf import settings

SETTLE = """
import json
from django.test import Client
from core.models import DeferredTask
from ecode.services import ecode_consume, token_issue
from ecode.models import Credential
from accounts.models import User
from filing.dates import today
from filing.selectors import filing_coverage
from settlement.models import CatalogueItem
from settlement.services import ItemInput, settlement_create
from decimal import Decimal

credential = Credential.objects.select_related("person").filter(person__filings__status="approved").first()
counters = User.objects.filter(role="counter").select_related("institution")
operator = next(o for o in counters if filing_coverage(person=credential.person, institution=o.institution).applies)
used = ecode_consume(token=token_issue(credential=credential).token, operator=operator)
item = CatalogueItem.objects.filter(catalogue__province_id=operator.institution.region_id[:2] + "0000").first()
settlement, _ = settlement_create(
    operator=operator, visit_type="general_outpatient", visit_date=today(), use_id=used.use_id,
    items=[ItemInput(code=item.code if item else "X-1", quantity=Decimal("1"), unit_price=Decimal("10.00"))],
)
task = DeferredTask.objects.get(kwargs={"settlement_id": settlement.pk})
ready = Client().get("/readyz")
print(json.dumps({"check": [task.status, task.attempts], "readyz": [ready.status_code, ready.json()]}))
"""


def test_a_settlements_check_runs_in_process_on_the_embedded_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3"
    )

    def manage(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    out = manage("shell", "-c", SETTLE)
    answers = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert answers["check"] == ["done", 1]
    assert answers["readyz"] == [
        200,
        {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "in_process"}},
    ]
