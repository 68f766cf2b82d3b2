"""Who may open which page: insured people see their own pages, counter operators the counter page."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.cache import add_never_cache_headers


def person_of(user):
    """The insured person behind a signed-in user, or None for staff and counters."""
    if not user.is_authenticated or not user.is_person:
        return None
    try:
        return user.person
    except user._meta.model.person.RelatedObjectDoesNotExist:
        return None


def person_required(view):
    """Signed-in insured people only; sets `request.person`. Others get 403, anonymous users the sign-in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("web:login"))
        person = person_of(request.user)
        if person is None:
            raise PermissionDenied
        request.person = person
        return _private(view(request, *args, **kwargs))

    return wrapper


def counter_required(view):
    """Signed-in counter operators of an institution only."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("web:counter-login"))
        if not request.user.is_counter or request.user.institution_id is None:
            raise PermissionDenied
        return _private(view(request, *args, **kwargs))

    return wrapper


def _private(response):
    # Pages with personal data must not stay in a shared phone's or counter PC's cache.
    add_never_cache_headers(response)
    return response
