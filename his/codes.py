"""The national interface's codes, mapped from ours in this one place (docs/his-interface.md says why)."""

from __future__ import annotations

from reference.choices import InstitutionKind, Scheme, Service

# med_type → the visit type we settle it as. A pharmacy purchase (41) is settled as a general outpatient bill:
# our policies have no separate pharmacy rate.
MED_TYPE_VISIT = {
    "11": Service.GENERAL_OUTPATIENT,
    "14": Service.CHRONIC_OUTPATIENT,
    "21": Service.INPATIENT,
    "41": Service.GENERAL_OUTPATIENT,
}
OUTPATIENT_MED_TYPES = ("11", "14", "41")
INPATIENT_MED_TYPES = ("21",)

INSUTYPE = {Scheme.EMPLOYEE: "310", Scheme.RESIDENT: "390"}
SCHEME_OF_INSUTYPE = {code: scheme for scheme, code in INSUTYPE.items()}

# mdtrt_cert_type
CERT_ECODE = "01"
CERT_ID_NUMBER = "02"
PSN_CERT_TYPE_ID = "01"

# chrgitm_lv by catalogue class; an item not in the catalogue is self-paid (丙).
CHRGITM_LV = {"A": "01", "B": "02", "C": "03", "": "03"}

# med_chrgitm_type by our item category (an item outside the catalogue: 14 other).
MED_CHRGITM_TYPE = {"drug": "09", "service": "05", "consumable": "08", "": "14"}

# idetinfo[].psn_idet_type for our medical-assistance categories (the facts name no table: our choice).
IDET_TYPE = {"low_income": "21", "extremely_poor": "22", "marginal": "23"}

# setldetail[].fund_pay_type by fund and scheme.
FUND_BASIC = {Scheme.EMPLOYEE: "310100", Scheme.RESIDENT: "390100"}
FUND_CRITICAL = {Scheme.EMPLOYEE: "330100", Scheme.RESIDENT: "390200"}
FUND_ASSISTANCE = "610100"
FUND_NAMES = {
    "310100": "职工基本医疗保险统筹基金",
    "390100": "城乡居民基本医疗保险基金",
    "330100": "职工大额医疗费用补助",
    "390200": "城乡居民大病医疗保险",
    "610100": "医疗救助基金",
}

MALE, FEMALE = "1", "2"


def gend(id_number: str) -> str:
    """Gender as the ID number says it (GB 11643: the 17th digit, odd for men)."""
    return MALE if int(id_number[16]) % 2 else FEMALE


def psn_type(*, scheme: str, retired: bool) -> str:
    if scheme == Scheme.EMPLOYEE:
        return "1201" if retired else "1101"
    return "1501"


def clr_type(*, visit_type: str, institution_kind: str) -> str:
    if visit_type == Service.INPATIENT:
        return "21"
    return "41" if institution_kind == InstitutionKind.PHARMACY else "11"


# psn_no: stable per person and not the ID number: this prefix and the person's number, 20 digits.
PSN_NO_PREFIX = "99"


def psn_no(person_pk: int) -> str:
    return f"{PSN_NO_PREFIX}{person_pk:018d}"


def person_pk_of(value: str) -> int | None:
    if len(value) != 20 or not value.isdigit() or not value.startswith(PSN_NO_PREFIX):
        return None
    return int(value[2:])
