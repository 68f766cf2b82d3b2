"""API authentication: bearer tokens for people, API keys for counter terminals."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .tokens import auth_token_check


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` from POST /api/v1/auth/token (accounts.tokens decides if it lives)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed(_("The token is missing."))
        token = auth_token_check(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is invalid or has expired."))
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` for counter terminals; the request acts as the key's operator."""

    keyword = "Api-Key"

    def authenticate(self, request):
        from .services import api_key_lookup

        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        api_key = api_key_lookup(key.strip())
        if api_key is None or not api_key.is_active or not api_key.operator.is_active:
            raise exceptions.AuthenticationFailed(_("The API key is invalid or revoked."))
        if not api_key.operator.institution.active:
            raise exceptions.AuthenticationFailed(_("The institution is not active."))
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            api_key.last_used_at = now
            type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.operator, api_key
