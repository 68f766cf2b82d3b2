"""The few writes that belong to the pages themselves."""

from __future__ import annotations

from django.conf import settings

from accounts.choices import Language


def user_language_set(*, user, language: str) -> bool:
    """Remember a signed-in user's language (notifications are written in it). False when unknown."""
    if language not in Language.values or language not in dict(settings.LANGUAGES):
        return False
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return True
