"""Bearer tokens of the API: who gets one, how long it lives, how it ends.

Only insured people get tokens (counter terminals use API keys, staff sign in to Django admin). A token is
refused after `AUTH_TOKEN_IDLE_HOURS` without use and in any case `AUTH_TOKEN_MAX_AGE_HOURS` after sign-in; it
ends at sign-out, when its owner signs out everywhere, and when the owner's password changes (on any path:
the token keeps the owner's sign-in stamp, which a new password changes). Only a SHA-256 of the token is
stored, and its use is written back at most once per `_touch_every()`, not on every request.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError

from .choices import Role
from .errors import AccountErrorCode
from .models import AuthToken, User


def _idle() -> dt.timedelta:
    return dt.timedelta(hours=settings.AUTH_TOKEN_IDLE_HOURS)


def _touch_every() -> dt.timedelta:
    # The idle window moves when the last use is written; writing it at most every 1/24 of the window (at most
    # hourly) keeps reads free of writes and ends an idle token at most that much early.
    return min(dt.timedelta(hours=1), _idle() / 24)


def _may_hold_token(user: User) -> bool:
    return user.is_active and user.role == Role.PERSON and hasattr(user, "person")


def auth_token_issue(*, user: User) -> str:
    """Create a bearer token for an insured person; the clear token is returned once, only its hash is kept."""
    if not _may_hold_token(user):
        raise ServiceError(
            AccountErrorCode.NOT_AN_INSURED_PERSON,
            _(
                "Bearer tokens are for insured people. Counter terminals use an API key; staff sign in to "
                "the administration site."
            ),
            status=403,
        )
    now = timezone.now()
    key = secrets.token_urlsafe(32)
    AuthToken.objects.create(
        user=user,
        key_hash=AuthToken.hash(key),
        expires_at=now + dt.timedelta(hours=settings.AUTH_TOKEN_MAX_AGE_HOURS),
        last_used_at=now,
        stamp=user.sign_in_stamp,
    )
    # This person's tokens that can no longer be used are of no use to keep.
    AuthToken.objects.filter(Q(expires_at__lte=now) | Q(last_used_at__lte=now - _idle()), user=user).delete()
    return key


def auth_token_check(key: str) -> AuthToken | None:
    """The live token for a clear key (with its user), or None: unknown, expired, idle too long or ended."""
    token = AuthToken.objects.select_related("user__person").filter(key_hash=AuthToken.hash(key)).first()
    if token is None:
        return None
    now = timezone.now()
    last_used = token.last_used_at or token.created_at
    if (
        token.expires_at <= now
        or last_used + _idle() <= now
        or not secrets.compare_digest(token.stamp, token.user.sign_in_stamp)
        or not _may_hold_token(token.user)
    ):
        token.delete()
        return None
    if now - last_used >= _touch_every():
        AuthToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def auth_token_revoke(*, token: AuthToken) -> None:
    """Sign out: this token ends now."""
    AuthToken.objects.filter(pk=token.pk).delete()


@transaction.atomic
def user_sign_out_everywhere(*, user: User, actor=None) -> int:
    """End every bearer token and every web session of the user; returns how many tokens ended."""
    User.objects.filter(pk=user.pk).update(sign_in_generation=F("sign_in_generation") + 1)
    user.refresh_from_db(fields=["sign_in_generation"])
    ended, _detail = AuthToken.objects.filter(user=user).delete()
    audit_record(
        actor=actor if actor is not None else user,
        action="user.sign_out_everywhere",
        target=user,
        data={"tokens": ended},
    )
    return ended
