import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from core.masking import mask_id_number, mask_name, mask_phone
from core.validators import id_check_character, validate_id_number, validate_phone


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x", " 440304197511301055 "])
def test_valid_id_numbers_are_accepted_and_normalised(number):
    assert validate_id_number(number) == number.strip().upper()


def test_check_character_follows_iso_7064():
    # The example from GB 11643-1999 / domain.md.
    assert id_check_character("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "wrong check character"),
        ("11010519491231002", "17 characters"),
        ("1101051949123100211", "19 characters"),
        ("99010519491231002X", "no such province"),
        ("11010519490230002X", "30 February"),
        ("11010518991231002X", "born before 1900"),
        ("1101051949123100AX", "letter inside"),
        ("11010519491231002Y", "Y is no check character"),
        ("", "empty"),
    ],
)
def test_invalid_id_numbers_are_refused(number, why):
    with pytest.raises(ValidationError) as exc:
        validate_id_number(number)
    assert exc.value.code == "invalid_id_number", why


def test_id_number_born_in_the_future_is_refused():
    first17 = "11010520991231002"
    with pytest.raises(ValidationError):
        validate_id_number(first17 + id_check_character(first17), today=dt.date(2026, 11, 23))


@pytest.mark.parametrize("phone", ["13812345678", "+86 138-1234-5678", "008619912345678"])
def test_mainland_mobile_numbers_are_accepted(phone):
    assert len(validate_phone(phone)) == 11


@pytest.mark.parametrize("phone", ["12812345678", "1381234567", "138123456789", "0105551234", "abc", ""])
def test_other_numbers_are_refused(phone):
    with pytest.raises(ValidationError) as exc:
        validate_phone(phone)
    assert exc.value.code == "invalid_phone"


def test_masks_hide_the_middle():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_name("张三明") == "张*明"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_phone("13812345678") == "138****5678"
