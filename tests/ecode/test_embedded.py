"""The embedded default (SQLite, `make run`) takes another path through a counter's check than PostgreSQL:
a read, then the record through the ORM. Run it for real in a fresh SQLite database."""

import json
import os
import subprocess
import sys

from django.conf import settings

CHECKS = """
import json
from accounts.models import User
from ecode.models import CodeEvent, Credential
from ecode.services import credential_suspend, ecode_consume, ecode_verify, token_issue
from filing.selectors import filing_coverage

# A person with an approved filing, at a counter where it settles directly.
credential = Credential.objects.select_related("person").filter(person__filings__status="approved").first()
counters = User.objects.filter(role="counter").select_related("institution")
operator = next(o for o in counters if filing_coverage(person=credential.person, institution=o.institution).applies)
token = token_issue(credential=credential).token
verified = ecode_verify(token=token, operator=operator, request_no="S-1")
replayed = ecode_verify(token=token, operator=operator, request_no="S-1")
used = ecode_consume(token=token, operator=operator)
again = ecode_consume(token=token, operator=operator)
credential_suspend(credential=credential, actor=None, reason="check")
suspended = ecode_verify(token=token, operator=operator)
print(json.dumps({
    "verified": [verified.code, verified.masked_name],
    "coverage": [
        verified.coverage.reason,
        filing_coverage(person=credential.person, institution=operator.institution).reason,
    ],
    "replayed": [replayed.replayed, replayed.event_id == verified.event_id],
    "used": [used.code, used.use_id is not None],
    "again": again.code,
    "suspended": suspended.code,
    "recorded": sorted(CodeEvent.objects.filter(person=credential.person).values_list("result", flat=True)),
}))
"""


def test_counters_check_and_use_codes_on_the_embedded_default(tmp_path):
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
    out = manage("shell", "-c", CHECKS)
    answers = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert answers["verified"][0] == "ok" and "*" in answers["verified"][1]
    # The check's own query finds the filing and decides its coverage as the filing selector does.
    assert answers["coverage"] == ["ok", "ok"]
    assert answers["replayed"] == [True, True]
    assert answers["used"] == ["ok", True]
    assert answers["again"] == "already_used"
    assert answers["suspended"] == "credential_suspended"
    assert answers["recorded"] == sorted(["ok", "ok", "already_used", "credential_suspended"])
