from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from core.validators import validate_phone

from .choices import Role


class PhonePasswordBackend(ModelBackend):
    """Insured people sign in with their mobile number; the number is found through its keyed hash."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from .models import User
        from .services import person_get_by_phone

        if not username or not password:
            return None
        try:
            validate_phone(username)
        except ValidationError:
            return None  # a staff username: ModelBackend's turn
        person = person_get_by_phone(username)
        if person is None or person.user is None or person.user.role != Role.PERSON:
            # Hash a password anyway, so timing does not reveal which numbers are registered.
            User().set_password(password)
            return None
        user = person.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
