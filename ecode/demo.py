"""Demo data for the e-code: a signing key, and an activated e-code for every demo person."""

from ecode.models import Credential
from ecode.services import credential_activate, signing_key_ensure


def seed(demo) -> None:
    signing_key_ensure()
    for person in demo.persons_by_group.values():
        if person.is_active and not Credential.objects.filter(person=person).exists():
            credential_activate(person=person, actor=None)
