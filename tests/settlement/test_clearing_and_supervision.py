"""Monthly clearing between provinces (先预付后清算) and the fund-supervision flags."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone

from filing.dates import today
from settlement.models import ClearingStatement, Prepayment, Settlement, SupervisionFlag
from settlement.selectors import clearing_balances
from settlement.services import (
    clearing_build,
    clearing_confirm,
    clearing_export,
    clearing_month_totals,
    settlement_create,
    settlement_reverse,
)
from settlement.tasks import build_monthly_clearing
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def catalogue():
    for province in ("110000", "310000"):
        f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A", province=province)
        f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B", province=province)


def settle(person, operator, *rows, visit_type="general_outpatient"):
    s, _ = settlement_create(
        operator=operator,
        visit_type=visit_type,
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(*rows),
    )
    return s


def test_monthly_clearing_reconciles_to_the_fen_and_is_idempotent(catalogue):
    f.policy()  # Chengdu, Sichuan (510000)
    f.policy(region_code="130100")  # Shijiazhuang, Hebei (130000)
    beijing, _ = f.counter()
    shanghai, _ = f.counter(f.hospital(region_code="310000", area="310104"))
    sichuan = [person_factory() for _ in range(3)]
    hebei = person_factory(insured_region="130100")
    for person in sichuan:
        f.filed(person, destination="110000")
    f.filed(hebei, destination="310000")

    # Amounts chosen so that rounding happens (x.xx5 products): the statement must still match to the fen.
    made = [
        settle(sichuan[0], beijing, ("XJ01CAA040A001", 3, "133.335"), ("XC10AAA105A001", 7, "11.115")),
        settle(sichuan[1], beijing, ("XJ01CAA040A001", 11, "41.37")),
        settle(sichuan[2], beijing, ("XC10AAA105A001", 9, "77.77")),
        settle(hebei, shanghai, ("XJ01CAA040A001", 17, "23.09")),
    ]
    reversed_one = settle(sichuan[0], beijing, ("XJ01CAA040A001", 100, "9.99"))
    settlement_reverse(settlement_id=reversed_one.pk, operator=beijing)

    month = today().replace(day=1)
    statements = clearing_build(month=month)
    assert len(statements) == 2
    sc_bj = ClearingStatement.objects.get(
        month=month, insured_province_id="510000", treatment_province_id="110000"
    )
    he_sh = ClearingStatement.objects.get(
        month=month, insured_province_id="130000", treatment_province_id="310000"
    )
    expected = made[:3]
    assert sc_bj.settlement_count == 3
    for name in ("total", "basic_fund", "critical_fund", "assistance_fund", "person_pays"):
        assert getattr(sc_bj, name) == sum(getattr(s, name) for s in expected)
        assert getattr(sc_bj, name) == sum(getattr(line, name) for line in sc_bj.lines.all())
    assert sc_bj.fund_total == sum(s.fund_total for s in expected)
    assert {line.settlement_id for line in sc_bj.lines.all()} == {s.pk for s in expected}
    assert he_sh.fund_total == made[3].fund_total
    totals = clearing_month_totals(month=month)
    assert totals["total"] == sc_bj.total + he_sh.total

    # Rebuilding gives the same statements; a confirmed one is left alone even if rebuilt.
    clearing_build(month=month)
    assert ClearingStatement.objects.filter(month=month).count() == 2
    assert (
        ClearingStatement.objects.get(
            pk__in=[s.pk for s in ClearingStatement.objects.filter(insured_province_id="510000")]
        ).total
        == sc_bj.total
    )
    confirmed = clearing_confirm(
        statement=ClearingStatement.objects.get(insured_province_id="510000"), actor=None
    )
    clearing_build(month=month)
    assert ClearingStatement.objects.get(pk=confirmed.pk).status == "confirmed"


def test_export_csv_has_each_settlement_and_a_total_row(catalogue):
    f.policy()
    operator, _ = f.counter()
    people = [person_factory() for _ in range(2)]
    for person in people:
        f.filed(person)
    made = [settle(p, operator, ("XJ01CAA040A001", 5, "19.99")) for p in people]
    clearing_build(month=today())
    text = clearing_export(statements=ClearingStatement.objects.all())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["settlement_number"] for r in rows] == [made[0].number, made[1].number, "TOTAL"]
    assert D(rows[-1]["basic_fund"]) == sum(D(r["basic_fund"]) for r in rows[:-1])


def test_task_builds_the_previous_month_by_default(catalogue):
    f.policy()
    operator, _ = f.counter()
    person = person_factory()
    f.filed(person)
    s = settle(person, operator, ("XJ01CAA040A001", 5, "19.99"))
    first_of_month = today().replace(day=1)
    last_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    # The settlement is moved into last month (as if the clearing ran on the 1st).
    Settlement.objects.filter(pk=s.pk).update(settled_at=timezone.now() - dt.timedelta(days=today().day))
    assert build_monthly_clearing() == 1
    assert build_monthly_clearing() == 1  # idempotent: rebuilt, not doubled
    statement = ClearingStatement.objects.get()
    assert statement.month == last_month and statement.settlement_count == 1
    assert build_monthly_clearing(first_of_month.strftime("%Y-%m")) == 0


def test_prepayments_and_balance_due_each_way():
    month = today().replace(day=1)
    ClearingStatement.objects.create(
        month=month,
        insured_province_id="510000",
        treatment_province_id="110000",
        settlement_count=1,
        total=D("100"),
        basic_fund=D("70"),
        fund_total=D("70"),
        person_pays=D("30"),
    )
    ClearingStatement.objects.create(
        month=month,
        insured_province_id="110000",
        treatment_province_id="510000",
        settlement_count=1,
        total=D("50"),
        basic_fund=D("40"),
        fund_total=D("40"),
        person_pays=D("10"),
    )
    Prepayment.objects.create(
        payer_province_id="510000", receiver_province_id="110000", month=month, amount=D("60.00")
    )
    Prepayment.objects.create(
        payer_province_id="110000", receiver_province_id="510000", month=month, amount=D("55.00")
    )
    balances = {(r["payer"], r["receiver"]): r for r in clearing_balances(month=month)}
    assert balances[("510000", "110000")]["balance"] == D("10.00")  # Sichuan still owes Beijing 10
    assert balances[("110000", "510000")]["balance"] == D("-15.00")  # Sichuan returns 15 to Beijing


def test_import_catalogue_command(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text(
        "# demo\ncode,name,category,coverage_class,first_share_rate,unit\n"
        "XJ01CAA040A001,阿莫西林胶囊,drug,甲,,盒\nXC10AAA105A001,阿托伐他汀钙片,药品,乙,15%,盒\n",
        encoding="utf-8",
    )
    call_command("import_catalogue", str(path), "--province", "440000")
    from settlement.models import CatalogueItem

    items = {i.code: i for i in CatalogueItem.objects.filter(catalogue__province_id="440000")}
    assert items["XJ01CAA040A001"].coverage_class == "A"
    assert items["XC10AAA105A001"].first_share_rate == D("0.1500")
    call_command("import_catalogue", str(path), "--province", "440000")  # idempotent
    assert CatalogueItem.objects.count() == 2


def test_import_catalogue_rejects_bad_rows_and_saves_nothing(tmp_path):
    from django.core.management.base import CommandError

    from settlement.models import CatalogueItem

    path = tmp_path / "bad.csv"
    path.write_text(
        "code,name,category,coverage_class\nX1,好药,drug,丁\nX1,重复,drug,A\n,无码,drug,A\n", encoding="utf-8"
    )
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(path), "--province", "440000")
    assert not CatalogueItem.objects.exists()
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(path), "--province", "440100")  # not a province


# --- Supervision ---


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the after-commit supervision check as a real commit would."""

    def run(person, operator, *rows):
        with django_capture_on_commit_callbacks(execute=True):
            return settle(person, operator, *rows)

    return run


def test_flags_are_looked_for_only_after_the_settlement_commits(catalogue):
    f.policy()
    operator, _ = f.counter()
    person = person_factory()
    f.filed(person)
    for _ in range(5):
        settle(person, operator, ("XJ01CAA040A001", 1, "10"))
    assert not SupervisionFlag.objects.exists()


def test_more_settlements_per_day_than_the_threshold_raise_one_flag(catalogue, committed):
    f.policy()
    operator, _ = f.counter()
    person = person_factory()
    f.filed(person)
    made = [committed(person, operator, ("XJ01CAA040A001", 1, "10")) for _ in range(5)]
    flags = SupervisionFlag.objects.filter(kind="frequent")
    assert flags.count() == 1  # one per person and day, updated with the latest count
    flag = flags.get()
    assert flag.details["count"] == 5 and flag.details["limit"] == 3
    assert flag.status == "open"
    assert all(s.status == "settled" for s in made)  # never blocks


def test_same_person_in_two_cities_within_two_hours_is_flagged(catalogue, committed):
    f.policy()
    person = person_factory()
    f.filed(person, destination="110000")
    beijing, _ = f.counter()
    committed(person, beijing, ("XJ01CAA040A001", 1, "10"))
    assert not SupervisionFlag.objects.filter(kind="multi_city").exists()
    # The same person used their e-code in Shanghai an hour earlier (a code event there, as an emergency).
    shanghai, _ = f.counter(f.hospital(region_code="310000", area="310104"))
    f.consumed_use(person, shanghai, emergency=True)
    second = committed(person, beijing, ("XJ01CAA040A001", 1, "10"))
    flag = SupervisionFlag.objects.get(kind="multi_city")
    assert flag.settlement == second
    assert flag.details["uses"][0]["city"] == "310000"


def test_institution_volume_far_above_its_average_is_flagged(settings, catalogue, committed):
    settings.SETTLEMENT_SUPERVISION = {"INSTITUTION_VOLUME_MIN": 4, "MAX_SETTLEMENTS_PER_PERSON_PER_DAY": 99}
    f.policy()
    operator, _ = f.counter()
    people = [person_factory() for _ in range(5)]
    for person in people:
        f.filed(person)
    for person in people[:3]:
        committed(person, operator, ("XJ01CAA040A001", 1, "10"))
    assert not SupervisionFlag.objects.filter(kind="institution_volume").exists()
    for person in people[3:]:
        committed(person, operator, ("XJ01CAA040A001", 1, "10"))
    flag = SupervisionFlag.objects.get(kind="institution_volume")
    assert flag.institution == operator.institution and flag.details["count"] == 5
