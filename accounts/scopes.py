"""Which rows a staff user may see and act on: a superuser all, a reviewer their own pooling area's, others none."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from .choices import Role

_M = TypeVar("_M", bound=Model)


def staff_area(user: Any) -> str | None:
    """The pooling-area code a user's work is limited to: a reviewer's own area; None for anyone else."""
    if user is None or getattr(user, "is_superuser", False):
        return None
    if getattr(user, "role", None) == Role.REVIEWER and getattr(user, "region_id", None):
        return str(user.region_id)
    return None


def sees_all_areas(user: Any) -> bool:
    """A superuser is limited to no area."""
    return bool(getattr(user, "is_superuser", False))


def scope(queryset: QuerySet[_M], user: Any, path: str, *, also: Q | None = None) -> QuerySet[_M]:
    """The rows of `queryset` that `user` may see; `path` leads from a row to its pooling-area code.

    A superuser sees every row, a reviewer the rows of their own area, anyone else none. `also` adds rows every
    staff user may see (such as the national default policy).
    """
    if sees_all_areas(user):
        return queryset
    area = staff_area(user)
    condition = Q(**{path: area}) if area is not None else None
    if also is not None:
        condition = also if condition is None else condition | also
    return queryset.none() if condition is None else queryset.filter(condition)


def in_scope(obj: Model | None, user: Any, path: str) -> bool:
    """Whether `user` may act on the row `obj` under the rule of `scope` (without `also`)."""
    if sees_all_areas(user):
        return True
    area = staff_area(user)
    if area is None or obj is None:
        return False
    value: Any = obj
    for step in path.split("__"):
        value = getattr(value, step, None)
        if value is None:
            return False
    return str(value) == area


class AreaScopedMixin:
    """Admin: reviewers see and change only rows of their own pooling area (`area_field`, a lookup path)."""

    area_field = "region_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope(super().get_queryset(request), request.user, self.area_field)  # type: ignore[misc]

    def _own(self, request: HttpRequest, obj: Model | None) -> bool:
        return obj is None or in_scope(obj, request.user, self.area_field)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(super().has_change_permission(request, obj)) and self._own(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(super().has_delete_permission(request, obj)) and self._own(request, obj)  # type: ignore[misc]
