"""E-code factories: activated credentials, signing keys, counters and hand-made tokens for edge cases."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecode.keys import keyring, subject_key
from ecode.models import Credential
from ecode.services import credential_activate, signing_key_ensure
from ecode.token import encrypt_subject, issue_token, pack_claims, to_digits
from tests.factories import InstitutionFactory, counter_with_key, person_factory


def credential_factory(*, person=None, **person_kwargs) -> Credential:
    """An activated e-code (and its person, unless one is given)."""
    signing_key_ensure()
    return credential_activate(person=person or person_factory(**person_kwargs), actor=None)


def filed_at(person, operator):
    """An approved filing of the person for the area of the operator's institution: a use there settles."""
    from tests.filing.factories import approved

    filing = approved(person, destination=operator.institution.region_id)
    assert filing.status == "approved", filing.status
    return filing


def counter(**institution_kwargs):
    """A counter operator of a new institution and the clear API key of its terminal."""
    return counter_with_key(institution=InstitutionFactory(**institution_kwargs))


def forged_token(
    *,
    member_id: int,
    iat: int,
    private_key: Ed25519PrivateKey | None = None,
    kid: int | None = None,
    ttl_units: int = 24,
    region: str = "510100",
    scheme: int = 1,
) -> str:
    """A token for any member id; signed with the active key unless another key and kid are given."""
    if private_key is None:
        kid, private_key = keyring().signing_key
    raw = issue_token(
        private_key=private_key,
        kid=kid,
        iat=iat,
        ttl_units=ttl_units,
        subject=encrypt_subject(subject_key(), member_id),
        claims=pack_claims(region, scheme, False),
    )
    return to_digits(raw)
