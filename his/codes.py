"""The national interface's codes, mapped from ours in this one place (docs/his-interface.md says why)."""

from __future__ import annotations

from accounts.choices import ChronicDisease
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

# idetinfo[].psn_idet_type for the identities of people in need (accounts.IdentityKind) and the medical-assistance
# categories of the same names (the facts name no table: our choice).
IDET_TYPE = {"low_income": "21", "extremely_poor": "22", "marginal": "23", "poverty_risk": "24"}

# The chronic/special disease of a med_type 14 visit (2203 mdtrtinfo.opsp_dise_code, as the 2503 filing names
# it): the facts give no national table of these codes, so the HIS sends ours (accounts.ChronicDisease).
CHRONIC_DISEASE = {value: value for value in ChronicDisease.values if value}
CHRONIC_MED_TYPES = ("14",)

# Flags: 0 no, 1 yes.
FLAGS = ("0", "1")

# setldetail[].fund_pay_type by fund and scheme. Employees' critical illness is reported with their large-amount
# cover (330100, hifob_pay), the employees' counterpart of the residents' critical illness (390200, hifmi_pay);
# one line per fund_pay_type.
FUND_BASIC = {Scheme.EMPLOYEE: "310100", Scheme.RESIDENT: "390100"}
FUND_CRITICAL = {Scheme.EMPLOYEE: "330100", Scheme.RESIDENT: "390200"}
FUND_LARGE_AMOUNT = "330100"
FUND_ASSISTANCE = "610100"
FUND_ACCOUNT = "310200"  # the personal account's line (not a fund: outside fund_pay_sumamt)
FUND_NAMES = {
    "310100": "职工基本医疗保险统筹基金",
    "310200": "职工基本医疗保险个人账户",
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
