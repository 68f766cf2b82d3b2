import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from accounts.models import ApiKey, InsuredPerson, User

ROOT = settings.BASE_DIR


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_working_accounts(api_client, counter_client):
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    first = json.loads(out.getvalue())
    counts = (InsuredPerson.objects.count(), User.objects.count(), ApiKey.objects.count())
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    assert json.loads(out.getvalue()) == first
    assert (InsuredPerson.objects.count(), User.objects.count(), ApiKey.objects.count()) == counts

    groups = {p["group"] for p in first["people"]}
    assert groups == {"retiree", "resident", "worker", "referral", "emergency", "temporary"}
    assert len({p["insured_region"][:2] for p in first["people"]}) >= 4
    for key in ("phone", "password", "name", "id_number", "insured_region", "group"):
        assert key in first["people"][0]
    assert {"username", "password", "region"} <= set(first["reviewers"][0])
    person = first["people"][0]
    token = api_client.post(
        "/api/v1/auth/token", {"phone": person["phone"], "password": person["password"]}, format="json"
    )
    assert token.status_code == 200
    assert counter_client(first["counters"][0]["api_key"]).get("/api/v1/institutions/").status_code == 200
    reviewer_regions = {r["region"] for r in first["reviewers"]}
    assert {p["insured_region"] for p in first["people"]} <= reviewer_regions


@pytest.mark.django_db
def test_seed_demo_refuses_production_settings():
    with override_settings(SETTINGS_MODULE="config.settings.production"), pytest.raises(CommandError):
        call_command("seed_demo")


def _run_manage(args, env_updates):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SECRET_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "ALLOWED_HOSTS",
            "PII_ENCRYPTION_KEY",
            "ECODE_KEK",
            "ECODE_SUBJECT_KEY",
        )
    }
    env.update(env_updates)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_refuse_to_start_without_secrets():
    result = _run_manage(["check"], {"DJANGO_SETTINGS_MODULE": "config.settings.production"})
    assert result.returncode != 0
    assert "Missing required environment variables" in result.stderr
    assert "PII_ENCRYPTION_KEY" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings():
    import base64

    def b64(n):
        return base64.urlsafe_b64encode(os.urandom(n)).decode()

    result = _run_manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": b64(50),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "ALLOWED_HOSTS": "yibao.example",
            "PII_ENCRYPTION_KEY": b64(32),
            "ECODE_KEK": b64(32),
            "ECODE_SUBJECT_KEY": b64(16),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_health_probes(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "in_process"},  # tasks run eagerly here
    }


@pytest.mark.django_db
def test_api_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/token" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content
    # The page's own script is served as a file: the Content-Security-Policy forbids inline scripts.
    assert b"<script>" not in docs.content
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
