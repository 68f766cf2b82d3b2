"""The demo data set: people of every filing group insured in different provinces, reviewers and counters.

Each app may add `<app>/demo.py` with `seed(demo: DemoData)` to add its own demo data (policies, keys, ...);
`seed_demo` calls them in dependency order. Everything here is idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from importlib import import_module

from django.conf import settings
from django.db import transaction

from accounts.choices import AssistanceCategory, Role
from accounts.models import ApiKey, User
from accounts.services import (
    api_key_create,
    counter_operator_create,
    person_create,
    person_get_by_phone,
    reviewer_create,
)
from core.validators import id_check_character
from reference.choices import InstitutionKind, Scheme
from reference.models import Institution, Region
from reference.services import DEMO_INSTITUTIONS_CSV, institutions_import, regions_load

PERSON_PASSWORD = "Demo@2026"
REVIEWER_PASSWORD = "Review@2026"
COUNTER_PASSWORD = "Counter@2026"
ADMIN_PASSWORD = "Admin@2026"

# group, name, phone, area code for the ID, birth date, insured pooling area, scheme, retired, destination
PEOPLE = [
    ("retiree", "王建国", "13800000001", "230102", "19550312", "230100", Scheme.EMPLOYEE, True, "460200"),
    ("resident", "李秀英", "13800000002", "510104", "19800521", "510100", Scheme.RESIDENT, False, "310000"),
    ("worker", "张伟", "13800000003", "130102", "19880917", "130100", Scheme.EMPLOYEE, False, "110000"),
    ("referral", "刘桂兰", "13800000004", "130602", "19620204", "130600", Scheme.RESIDENT, False, "110000"),
    ("emergency", "陈志强", "13800000005", "440304", "19751130", "440300", Scheme.EMPLOYEE, False, "330100"),
    ("temporary", "赵敏", "13800000006", "330106", "19900708", "330100", Scheme.EMPLOYEE, False, "440100"),
]
# Extra institutions to serve as counters besides a hospital in each destination.
EXTRA_COUNTER_KINDS = [("110000", InstitutionKind.PHARMACY), ("310000", InstitutionKind.PHARMACY)]


def demo_id_number(area: str, birth: str, seq: int) -> str:
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + id_check_character(first17)


@dataclass
class DemoData:
    people: list[dict] = field(default_factory=list)
    reviewers: list[dict] = field(default_factory=list)
    counters: list[dict] = field(default_factory=list)
    admin: dict = field(default_factory=dict)
    # model objects for app seeders
    persons_by_group: dict = field(default_factory=dict)
    destinations: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "people": self.people,
            "reviewers": self.reviewers,
            "counters": self.counters,
            "admin": self.admin,
        }


def _demo_secret(label: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"yibao-demo:{label}".encode(), hashlib.sha256).hexdigest()


def _ensure_counter(institution: Institution, demo: DemoData) -> None:
    username = f"counter-{institution.code.lower()}"
    user = User.objects.filter(username=username).first() or counter_operator_create(
        username=username, password=COUNTER_PASSWORD, institution=institution
    )
    secret = _demo_secret(institution.code)
    prefix = secret[:8]
    if not ApiKey.objects.filter(prefix=prefix).exists():
        api_key_create(operator=user, name="demo terminal", prefix=prefix, secret=secret[8:48])
    demo.counters.append(
        {
            "institution_code": institution.code,
            "institution_name": institution.name,
            "api_key": f"ybk_{prefix}_{secret[8:48]}",
            "username": username,
            "password": COUNTER_PASSWORD,
        }
    )


@transaction.atomic
def seed_demo() -> DemoData:
    demo = DemoData()
    if not Region.objects.exists():
        regions_load()
    institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())

    admin = User.objects.filter(username="admin").first()
    if admin is None:
        User.objects.create_superuser("admin", password=ADMIN_PASSWORD, role=Role.ADMIN)
    demo.admin = {"username": "admin", "password": ADMIN_PASSWORD}

    for seq, (group, name, phone, area, birth, region, scheme, retired, destination) in enumerate(PEOPLE, 1):
        insured = Region.objects.get(code=region)
        id_number = demo_id_number(area, birth, 100 + seq)
        person = person_get_by_phone(phone) or person_create(
            name=name,
            id_number=id_number,
            phone=phone,
            insured_region=insured,
            scheme=scheme,
            retired=retired,
            password=PERSON_PASSWORD,
            assistance_category=AssistanceCategory.LOW_INCOME if group == "referral" else "",
        )
        demo.persons_by_group[group] = person
        demo.destinations[group] = Region.objects.get(code=destination)
        demo.people.append(
            {
                "phone": phone,
                "password": PERSON_PASSWORD,
                "name": name,
                "id_number": id_number,
                "insured_region": insured.code,
                "insured_region_name": insured.full_name,
                "group": group,
                "destination": destination,
            }
        )

    for region_code in dict.fromkeys(p[5] for p in PEOPLE):
        region = Region.objects.get(code=region_code)
        username = f"reviewer-{region_code}"
        if not User.objects.filter(username=username).exists():
            reviewer_create(username=username, password=REVIEWER_PASSWORD, region=region)
        demo.reviewers.append(
            {
                "username": username,
                "password": REVIEWER_PASSWORD,
                "region": region_code,
                "region_name": region.full_name,
            }
        )

    for destination in dict.fromkeys(p[8] for p in PEOPLE):
        region = Region.objects.get(code=destination)
        hospital = (
            Institution.objects.in_region(region)
            .settling()
            .filter(kind=InstitutionKind.HOSPITAL)
            .order_by("-level", "code")
            .first()
        )
        if hospital:
            _ensure_counter(hospital, demo)
    for region_code, kind in EXTRA_COUNTER_KINDS:
        region = Region.objects.get(code=region_code)
        inst = Institution.objects.in_region(region).settling().filter(kind=kind).order_by("code").first()
        if inst:
            _ensure_counter(inst, demo)

    for module in ("filing.demo", "ecode.demo", "notifications.demo", "settlement.demo", "his.demo"):
        try:
            seeder = import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        seeder.seed(demo)
    return demo
