"""People, sign-in and counter keys."""

from __future__ import annotations

import secrets
import time

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import pii
from core.audit import audit_record
from core.errors import CommonErrorCode, ServiceError
from core.validators import validate_id_number, validate_phone

from .choices import Gender, Role
from .errors import AccountErrorCode
from .models import ApiKey, AuthToken, InsuredPerson, User


def id_number_hash(id_number: str) -> str:
    return pii.blind_index(id_number, purpose="id_number")


def phone_hash(phone: str) -> str:
    return pii.blind_index(phone, purpose="phone")


def _clean_identity(id_number: str, phone: str) -> tuple[str, str]:
    fields = {}
    try:
        id_number = validate_id_number(id_number)
    except ValidationError as exc:
        fields["id_number"] = exc.messages
    try:
        phone = validate_phone(phone)
    except ValidationError as exc:
        fields["phone"] = exc.messages
    if fields:
        code = AccountErrorCode.INVALID_ID_NUMBER if "id_number" in fields else AccountErrorCode.INVALID_PHONE
        raise ServiceError(code, next(iter(fields.values()))[0], fields=fields)
    return id_number, phone


@transaction.atomic
def person_create(
    *,
    name: str,
    id_number: str,
    phone: str,
    insured_region,
    scheme: str,
    retired: bool = False,
    password: str | None = None,
    email: str = "",
    employer: str = "",
    assistance_category: str = "",
    language: str = "zh-hans",
    actor=None,
) -> InsuredPerson:
    """Register an insured person (and a sign-in account when a password is given)."""
    id_number, phone = _clean_identity(id_number, phone)
    name = (name or "").strip()
    if not name:
        raise ServiceError(
            CommonErrorCode.INVALID, _("The name is required."), fields={"name": [_("The name is required.")]}
        )
    if not insured_region.is_pooling_area:
        raise ServiceError(AccountErrorCode.INVALID_REGION, _("The insured area must be a pooling area."))
    if InsuredPerson.objects.filter(id_number_hash=id_number_hash(id_number)).exists():
        raise ServiceError(
            AccountErrorCode.DUPLICATE_ID_NUMBER, _("This ID number is already registered."), status=409
        )
    if InsuredPerson.objects.filter(phone_hash=phone_hash(phone)).exists():
        raise ServiceError(
            AccountErrorCode.DUPLICATE_PHONE, _("This phone number is already registered."), status=409
        )
    user = None
    if password is not None:
        user = User(username="p" + secrets.token_hex(8), role=Role.PERSON, language=language)
        user.set_password(password)
        user.save()
    person = InsuredPerson(
        user=user,
        name=name,
        id_number=id_number,
        id_number_hash=id_number_hash(id_number),
        phone=phone,
        phone_hash=phone_hash(phone),
        email=email,
        gender=Gender.MALE if int(id_number[16]) % 2 else Gender.FEMALE,
        insured_region=insured_region,
        scheme=scheme,
        retired=retired,
        employer=employer,
        assistance_category=assistance_category,
    )
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError:
        raise ServiceError(
            AccountErrorCode.DUPLICATE_ID_NUMBER,
            _("This ID number or phone number is already registered."),
            status=409,
        ) from None
    audit_record(actor=actor, action="person.create", target=person, to_state=person.status)
    return person


def person_get_by_phone(phone: str) -> InsuredPerson | None:
    try:
        phone = validate_phone(phone)
    except ValidationError:
        return None
    return InsuredPerson.objects.select_related("user").filter(phone_hash=phone_hash(phone)).first()


def person_get_by_id_number(id_number: str) -> InsuredPerson | None:
    try:
        id_number = validate_id_number(id_number)
    except ValidationError:
        return None
    return (
        InsuredPerson.objects.select_related("user").filter(id_number_hash=id_number_hash(id_number)).first()
    )


# --- Sign-in ---


def user_authenticate(*, request, identifier: str, password: str) -> User:
    """Check a phone (or staff username) and password. Throttled in `accounts.signin` (through the backend):
    a locked identity or address raises `SignInLocked` (429) whatever the password."""
    user = authenticate(request, username=identifier, password=password)
    if user is None:
        raise ServiceError(
            AccountErrorCode.INVALID_CREDENTIALS, _("Wrong phone number or password."), status=401
        )
    return user


# --- Counter API keys ---

API_KEY_PREFIX = "ybk"


@transaction.atomic
def api_key_create(
    *, operator: User, name: str, actor=None, prefix: str | None = None, secret: str | None = None
) -> tuple[ApiKey, str]:
    """Create a terminal key for a counter operator; returns the key object and the clear key (shown once).

    `prefix` and `secret` are for the demo seed only, which must print the same keys on every run.
    """
    if operator.role != Role.COUNTER or operator.institution_id is None:
        raise ServiceError(AccountErrorCode.NOT_A_COUNTER, _("API keys belong to counter operators."))
    prefix = prefix or secrets.token_hex(4)
    secret = secret or secrets.token_urlsafe(32)
    clear = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey.objects.create(operator=operator, name=name, prefix=prefix, key_hash=AuthToken.hash(clear))
    audit_record(
        actor=actor,
        action="api_key.create",
        target=key,
        to_state="active",
        data={"institution": operator.institution.code, "prefix": prefix},  # type: ignore[union-attr]
    )
    return key, clear


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor=None, reason: str = "") -> ApiKey:
    api_key_cache_clear()
    transaction.on_commit(api_key_cache_clear)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_key.revoke",
            target=key,
            from_state="active",
            to_state="revoked",
            reason=reason,
        )
    return key


# Counter terminals call on every scan: a key found valid is remembered in this process for a few seconds, so
# the hot path skips the lookup query. Saving a key, a user or an institution (a revocation, a deactivation)
# forgets every remembered key in that process at once (AccountsConfig.ready); other processes stop accepting
# it within API_KEY_CACHE_SECONDS.
API_KEY_CACHE_SECONDS = 5.0
_api_key_cache: dict[str, tuple[float, ApiKey]] = {}


def api_key_lookup(clear: str) -> ApiKey | None:
    parts = clear.split("_", 2)  # the secret (token_urlsafe) may itself contain "_"
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key_hash = AuthToken.hash(clear)
    cached = _api_key_cache.get(key_hash)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    key = ApiKey.objects.select_related("operator__institution").filter(prefix=parts[1]).first()
    if key is None or not secrets.compare_digest(key.key_hash, key_hash):
        return None
    if len(_api_key_cache) > 10_000:
        _api_key_cache.clear()
    _api_key_cache[key_hash] = (time.monotonic() + API_KEY_CACHE_SECONDS, key)
    return key


def api_key_cache_clear() -> None:
    _api_key_cache.clear()


@transaction.atomic
def reviewer_create(*, username: str, password: str, region, actor=None) -> User:
    """An agency reviewer of one pooling area, with admin access to that area's work only."""
    from .roles import reviewers_group

    if not region.is_pooling_area:
        raise ServiceError(AccountErrorCode.INVALID_REGION, _("A reviewer belongs to a pooling area."))
    user = User(username=username, role=Role.REVIEWER, region=region, is_staff=True)
    user.set_password(password)
    user.save()
    user.groups.add(reviewers_group())
    audit_record(
        actor=actor, action="user.create", target=user, to_state=Role.REVIEWER, data={"region": region.code}
    )
    return user


@transaction.atomic
def counter_operator_create(*, username: str, password: str, institution, actor=None) -> User:
    """A counter operator of one institution (signs in on the counter page; terminals use API keys)."""
    user = User(username=username, role=Role.COUNTER, institution=institution)
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        to_state=Role.COUNTER,
        data={"institution": institution.code},
    )
    return user


def personal_data_reencrypt(*, batch_size: int = 500) -> int:
    """Rewrite every person's data under the current key and recompute the lookup hashes (after a rotation).

    Batches run in their own transactions; running it again is harmless.
    """
    count = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                InsuredPerson.objects.select_for_update().filter(pk__gt=last_pk).order_by("pk")[:batch_size]
            )
            if not batch:
                return count
            for person in batch:
                person.id_number_hash = id_number_hash(person.id_number)
                person.phone_hash = phone_hash(person.phone)
                person.save(
                    update_fields=["name", "id_number", "id_number_hash", "phone", "phone_hash", "email"]
                )
            count += len(batch)
            last_pk = batch[-1].pk
