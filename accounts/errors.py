from enum import Enum


class AccountErrorCode(str, Enum):
    INVALID_CREDENTIALS = "invalid_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    ACCOUNT_INACTIVE = "account_inactive"
    INVALID_ID_NUMBER = "invalid_id_number"
    INVALID_PHONE = "invalid_phone"
    DUPLICATE_ID_NUMBER = "duplicate_id_number"
    DUPLICATE_PHONE = "duplicate_phone"
    NOT_AN_INSURED_PERSON = "not_an_insured_person"
    NOT_A_COUNTER = "not_a_counter"
    INVALID_REGION = "invalid_region"
