"""Creates the demo data and prints the demo accounts: the first thing a newcomer reads after `make run`."""

from __future__ import annotations

import json
import logging
import unicodedata
from contextlib import contextmanager
from logging.handlers import MemoryHandler

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.demo import seed_demo

SITE = "http://127.0.0.1:8000"


def width(text: str) -> int:
    """Columns a terminal gives the text: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: list[str], rows: list[list[str]], *, indent: str = "  ") -> list[str]:
    """Rows aligned under their headers, for a monospaced terminal (Chinese names included)."""
    cells = [headers, *rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        padded = [cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)]
        return (indent + "  ".join(padded)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


@contextmanager
def logs_held():
    """Holds what is logged while seeding (e.g. the generated development key) and shows it afterwards, so the
    accounts come first. Nothing is dropped: held lines are written when the block ends, also on an error."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    target = handlers[0] if handlers else logging.StreamHandler()
    held = MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1, target=target, flushOnClose=False)
    root.handlers = [held]
    try:
        yield held
    except BaseException:
        root.handlers = handlers
        held.flush()
        raise
    finally:
        root.handlers = handlers


class Command(BaseCommand):
    help = "Create the demo data and accounts (idempotent; refused under production settings)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the demo accounts as JSON.")

    def handle(self, *args, **options):
        if settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError("seed_demo refuses to run under production settings.")
        with logs_held() as held:
            demo = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps(demo.as_json(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write("\n".join(accounts_text(demo)))
        self.stdout.flush()
        if held.buffer:
            self.stderr.write("\nNotes from setting up the demo data:")
            held.flush()


def accounts_text(demo) -> list[str]:
    """The demo accounts as tables, with who already has a filing in force and where each can settle."""
    people = demo.people
    lines = [
        "Demo accounts (development only: every person, number and key here is made up)",
        "",
        f"Insured people: sign in at {SITE}/login/ with the phone number",
    ]
    lines += table(
        ["phone", "password", "group", "insured in", "ID number", "filing in force"],
        [
            [
                p["phone"],
                p["password"],
                p["group"],
                p["insured_region_name"],
                p["id_number"],
                _filing_words(p),
            ]
            for p in people
        ],
    )
    benefits = [(p["phone"], "; ".join(p["benefits"])) for p in people if p.get("benefits")]
    if benefits:
        lines += ["", "Benefit rules the demo shows (docs/benefits.md):"]
        lines += table(["phone", "what the insured area recorded"], [list(row) for row in benefits])
    lines += ["", f"Counters: sign in at {SITE}/counter/login/ and scan the person's e-code ({SITE}/ecode/)"]
    lines += table(
        ["username", "password", "institution", "settles directly for"],
        [
            [c["username"], c["password"], c["institution_name"], ", ".join(c.get("settles_for", [])) or "-"]
            for c in demo.counters
        ],
    )
    lines += ["", f"Agency reviewers: sign in at {SITE}/admin/ (each reviews the filings of their own area)"]
    lines += table(
        ["username", "password", "pooling area"],
        [[r["username"], r["password"], r["region_name"]] for r in demo.reviewers],
    )
    lines += [
        "",
        f"Administrator: {demo.admin['username']} / {demo.admin['password']} at {SITE}/admin/",
        "",
        "Counter terminals (POST /api/v1/ecode/verify with the header Authorization: Api-Key <key>):",
    ]
    lines += table(["username", "API key"], [[c["username"], c["api_key"]] for c in demo.counters])
    lines += [
        "",
        "Hospital systems (POST /his/v1/{infno}, the national interface; docs/his-interface.md), signed with:",
    ]
    lines += table(
        ["institution", "x-tif-paasid", "secret"],
        [[c["institution_code"], c.get("paasid", "-"), c.get("his_secret", "-")] for c in demo.counters],
    )
    lines += ["", "Try:"] + [f"  - {tip}" for tip in _tips(demo)]
    return lines


def _filing_words(person: dict) -> str:
    filing = person.get("filing")
    if not filing:
        return "none yet: file one at /filings/new/"
    words = f"{filing['status']}, for {filing['destination_name']}"
    if person.get("settlements"):
        words += f"; {person['settlements']} settled (receipt at /settlements/)"
    return words


def _tips(demo) -> list[str]:
    tips = []
    for counter in demo.counters:
        if counter.get("settles_for"):
            phone = counter["settles_for"][0]
            tips.append(
                f"show {phone}'s e-code at {counter['username']} ({counter['institution_name']}): it verifies "
                "and settles directly"
            )
            break
    unfiled = [p for p in demo.people if not p.get("filing")]
    by_hand = next((p for p in unfiled if p.get("instant_approval") is False), None)
    if by_hand:
        tips.append(
            f"sign in as {by_hand['phone']} and file: {by_hand['insured_region_name']} reviews filings by hand, so "
            f"it waits in reviewer-{by_hand['insured_region']}'s queue at /admin/"
        )
    at_once = next((p for p in unfiled if p.get("instant_approval")), None)
    if at_once:
        tips.append(
            f"sign in as {at_once['phone']} and file on a signed commitment: {at_once['insured_region_name']} "
            "approves it at once"
        )
    tips.append(
        "search a person in admin by the ID number or phone above: the number never reaches the address"
    )
    return tips
