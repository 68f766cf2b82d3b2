import pytest
from django.urls import reverse

from accounts.choices import Role
from accounts.models import User
from core.demo import seed_demo
from ecode.models import Credential, CredentialStatus, SigningKey, SigningKeyStatus
from ecode.services import ecode_verify, token_issue
from tests.factories import PASSWORD, ReviewerFactory

from .factories import counter, credential_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def admin_client(client):
    User.objects.create_superuser("root", password=PASSWORD, role=Role.ADMIN)
    client.login(username="root", password=PASSWORD)
    return client


def test_admin_suspends_with_a_reason_through_the_service(admin_client):
    credential = credential_factory()
    url = reverse("admin:ecode_credential_changelist")
    ask = admin_client.post(url, {"action": "suspend", "_selected_action": [credential.pk]})
    assert ask.status_code == 200 and b"reason" in ask.content
    assert Credential.objects.get().status == CredentialStatus.ACTIVE
    done = admin_client.post(
        url, {"action": "suspend", "_selected_action": [credential.pk], "apply": "1", "reason": "挂失"}
    )
    assert done.status_code == 302
    credential.refresh_from_db()
    assert (credential.status, credential.suspended_reason) == (CredentialStatus.SUSPENDED, "挂失")
    page = admin_client.get(reverse("admin:ecode_credential_change", args=[credential.pk]))
    assert page.status_code == 200 and "ecode.suspend" in page.content.decode()
    assert credential.person.name not in page.content.decode()


def test_admin_lists_keys_without_private_material_and_events_read_only(admin_client):
    credential = credential_factory()
    operator, _key = counter()
    ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    key = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    keys_page = admin_client.get(reverse("admin:ecode_signingkey_changelist")).content.decode()
    assert key.kid_hex in keys_page and key.private_key_sealed not in keys_page
    detail = admin_client.get(reverse("admin:ecode_signingkey_change", args=[key.pk])).content.decode()
    assert key.private_key_sealed[:20] not in detail
    events = admin_client.get(reverse("admin:ecode_codeevent_changelist") + "?result=ok")
    assert events.status_code == 200 and operator.institution.name in events.content.decode()
    assert admin_client.get(reverse("admin:ecode_codeevent_add")).status_code == 403


def test_a_reviewer_sees_only_credentials_of_their_area(client):
    mine = credential_factory(insured_region="510100")
    credential_factory(insured_region="230100")
    reviewer = ReviewerFactory(region_code="510100")
    client.force_login(reviewer)
    page = client.get(reverse("admin:ecode_credential_changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert list(page.context["cl"].result_list) == [mine]


def test_the_demo_seed_activates_every_demo_person_once():
    demo = seed_demo()
    people = list(demo.persons_by_group.values())
    assert Credential.objects.filter(person__in=people, status=CredentialStatus.ACTIVE).count() == len(people)
    assert SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).count() == 1
    before = list(Credential.objects.values_list("pk", "member_id"))
    seed_demo()
    assert list(Credential.objects.values_list("pk", "member_id")) == before
