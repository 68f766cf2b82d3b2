"""Demo gateway credentials: each demo counter gets a paasid and a secret, the same on every run, printed by
`seed_demo --json` next to its API key."""

from __future__ import annotations

from accounts.models import User
from core.demo import DemoData, _demo_secret

from .models import HisTerminal
from .services import his_terminal_create


def seed(demo: DemoData) -> None:
    for counter in demo.counters:
        secret = _demo_secret(f"his:{counter['institution_code']}")
        paasid = f"yb{secret[:14]}"
        if not HisTerminal.objects.filter(paasid=paasid).exists():
            operator = User.objects.get(username=counter["username"])
            his_terminal_create(operator=operator, name="demo HIS", paasid=paasid, secret=secret[14:62])
        counter["paasid"] = paasid
        counter["his_secret"] = secret[14:62]
