"""The printable receipt (who may see it) and the admin: rules editing, reviewer scope, clearing views."""

from decimal import Decimal as D

import pytest
from django.test import Client

from filing.dates import today
from settlement.models import ClearingStatement, Policy
from settlement.services import clearing_build, settlement_create
from tests.factories import PASSWORD, CounterFactory, ReviewerFactory, person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def settled():
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("250203099", "特需病房床位费差价", "C", category="service")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    s, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(("XJ01CAA040A001", 20, "25.00"), ("250203099", 1, "100.00")),
    )
    return s, person, operator


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_receipt_shows_the_split_to_the_counter_and_the_person(settled):
    s, person, operator = settled
    for user in (operator, person.user):
        response = signed_in(user).get(f"/settlements/{s.pk}/receipt")
        assert response.status_code == 200
        html = response.content.decode()
        assert s.number in html and "600.00" in html and "150.00" in html and "450.00" in html
        assert person.name not in html and person.masked_name in html
        assert "settlement/receipt.css" in html


def test_receipt_is_hidden_from_others(settled):
    s, _person, operator = settled
    other_counter = CounterFactory()
    colleague = CounterFactory(institution=operator.institution)
    assert signed_in(other_counter).get(f"/settlements/{s.pk}/receipt").status_code == 404
    assert signed_in(person_factory().user).get(f"/settlements/{s.pk}/receipt").status_code == 404
    assert signed_in(colleague).get(f"/settlements/{s.pk}/receipt").status_code == 200
    anonymous = Client().get(f"/settlements/{s.pk}/receipt")
    assert anonymous.status_code == 302


def test_reviewer_edits_only_own_area_policy(settled):
    own = Policy.objects.get(region_id="510100")
    other = f.policy(region_code="130100")
    reviewer = ReviewerFactory(region_code="510100")
    client = Client()
    assert client.login(username=reviewer.username, password=PASSWORD)
    listing = client.get("/admin/settlement/policy/")
    assert listing.status_code == 200
    assert f"/admin/settlement/policy/{own.pk}/change/" in listing.content.decode()
    assert f"/admin/settlement/policy/{other.pk}/change/" not in listing.content.decode()
    assert client.get(f"/admin/settlement/policy/{own.pk}/change/").status_code == 200
    assert client.get(f"/admin/settlement/policy/{other.pk}/change/").status_code == 302  # not found → index
    # reviewers see their insured area's settlements, read-only
    s, _person, _operator = settled
    assert client.get(f"/admin/settlement/settlement/{s.pk}/change/").status_code == 200
    other_reviewer = ReviewerFactory(region_code="130100")
    client2 = Client()
    client2.login(username=other_reviewer.username, password=PASSWORD)
    assert client2.get(f"/admin/settlement/settlement/{s.pk}/change/").status_code == 302


def test_admin_pages_for_clearing_catalogue_and_flags(settled, admin_client):
    clearing_build(month=today())
    statement = ClearingStatement.objects.get()
    assert statement.fund_total == D("150.00")
    for url in (
        "/admin/settlement/clearingstatement/",
        f"/admin/settlement/clearingstatement/{statement.pk}/change/",
        "/admin/settlement/clearingstatement/balances/",
        "/admin/settlement/clearingstatement/build/",
        "/admin/settlement/catalogueitem/",
        "/admin/settlement/catalogueitem/import/",
        "/admin/settlement/policy/",
        "/admin/settlement/settlement/",
        "/admin/settlement/supervisionflag/",
        "/admin/settlement/prepayment/add/",
        "/admin/settlement/accumulator/",
    ):
        assert admin_client.get(url).status_code == 200, url
    export = admin_client.post(
        "/admin/settlement/clearingstatement/", {"action": "export_csv", "_selected_action": [statement.pk]}
    )
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert statement.lines.get().settlement.number in export.content.decode("utf-8-sig")


def test_catalogue_import_through_admin(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "c.csv",
        "code,name,category,coverage_class,first_share_rate,unit\nX1,阿莫西林胶囊,drug,A,,盒\n".encode(),
    )
    response = admin_client.post(
        "/admin/settlement/catalogueitem/import/", {"province": "460000", "file": upload}
    )
    assert response.status_code == 302
    from settlement.models import CatalogueItem

    assert CatalogueItem.objects.get(code="X1").catalogue.province_id == "460000"


def test_a_policy_may_cut_other_temporary_filers_by_up_to_20_points():
    # Local practice: 10 to 20 points (one area cuts 15, domain.md).
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    policy = f.policy(temporary_cut=D("0.15"))
    policy.full_clean()
    policy.temporary_cut = D("0.25")
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "temporary_cut" in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Policy.objects.filter(pk=policy.pk).update(temporary_cut=D("0.25"))
