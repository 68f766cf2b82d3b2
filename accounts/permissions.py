from rest_framework.permissions import BasePermission

from .choices import Role


class IsInsuredPerson(BasePermission):
    """The caller is an insured person with a registry record."""

    message = "Only insured people can do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.PERSON and hasattr(user, "person"))


class IsCounter(BasePermission):
    """The caller is a counter operator (or terminal) of an active institution."""

    message = "Only counter operators can do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.role == Role.COUNTER
            and user.institution_id
            and user.institution.active
        )


class IsReviewer(BasePermission):
    """The caller is an agency reviewer of a pooling area."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.REVIEWER and user.region_id)
