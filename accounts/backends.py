from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from core.validators import validate_phone

from .choices import Role
from .models import User
from .services import person_get_by_phone
from .signin import signin_check, signin_failed, signin_succeeded


class SignInBackend(ModelBackend):
    """Every password sign-in: insured people by mobile number, staff by username; throttled by accounts.signin.

    It is the only backend, so no caller of `authenticate()` (the API, the pages, Django admin) can check a
    password without the throttle: a locked identity or address raises `SignInLocked` before any check.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not username or password is None:
            return None
        signin_check(identifier=username, request=request)
        user = self._person(username, password)
        if user is False:  # not a registered person's number: perhaps a staff username
            user = super().authenticate(request, username=username, password=password)
        if user is None:
            signin_failed(identifier=username, request=request)
            return None
        signin_succeeded(identifier=username, request=request)
        return user

    def _person(self, phone: str, password: str):
        """The person's user for a correct password, None for a wrong one, False when no person has it."""
        try:
            validate_phone(phone)
        except ValidationError:
            return False
        person = person_get_by_phone(phone)
        if person is None or person.user is None or person.user.role != Role.PERSON:
            return False  # ModelBackend hashes a password for unknown usernames, so timing reveals nothing
        user = person.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
