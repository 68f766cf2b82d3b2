"""The transactions of the national interface, each on the services that own its rule: the e-code's verify and
consume (ecode.services), filing coverage (filing.selectors), the split and its settlement
(settlement.services, settlement.selectors, settlement.calculator). Nothing here decides money or coverage."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import InsuredPerson, identity_rows_on
from accounts.services import person_get_by_id_number
from core.audit import audit_record
from core.errors import ServiceError
from ecode.services import ecode_consume, ecode_verify
from filing.coverage import filing_coverage
from filing.models import Filing
from filing.referrals import filing_refer, filing_refer_cancel
from reference.selectors import province_code
from settlement import calculator
from settlement.selectors import catalogue_entries, personal_account_balance, settlement_totals
from settlement.services import ItemInput, settlement_create, settlement_preview, settlement_reverse

from . import codes
from . import fields as f
from .envelope import BEIJING, beijing_now, local_dt
from .errors import HisErrorCode, HisRefusal
from .gateway import Caller
from .models import HisFee, HisSignIn, HisVisit, VisitState

ZERO = Decimal("0.00")

# Why direct settlement does not apply that mean "no filing in force here" for the HIS.
NO_FILING_REASONS = {"no_filing", "other_destination", "institution_not_picked"}


@dataclass(frozen=True)
class Call:
    caller: Caller
    envelope: dict
    msgid: str
    received: dt.datetime

    @property
    def operator(self):
        return self.caller.operator

    @property
    def institution(self):
        return self.caller.operator.institution


# --- People ----------------------------------------------------------------------------------------------


def _person_of_psn_no(value: str) -> InsuredPerson:
    pk = codes.person_pk_of(value)
    person = InsuredPerson.objects.filter(pk=pk).first() if pk else None
    if person is None:
        raise HisRefusal(HisErrorCode.PERSON_NOT_FOUND, _("No insured person has this psn_no."))
    return person


def _age(birth: dt.date, on: dt.date) -> Decimal:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    last = birth.replace(year=birth.year + years) if not (birth.month == 2 and birth.day == 29) else None
    months = 0
    if last is not None:
        months = (on.year - last.year) * 12 + on.month - last.month - (on.day < last.day)
    return Decimal(years) + Decimal(months * 10 // 12) / 10


def _identity(person: InsuredPerson) -> dict:
    """The person as the institution records them (the medical record needs the full identity)."""
    birth = person.birth_date
    return {
        "psn_no": codes.psn_no(person.pk),
        "psn_cert_type": codes.PSN_CERT_TYPE_ID,
        "certno": person.id_number,
        "psn_name": person.name,
        "gend": codes.gend(person.id_number),
        "naty": "",
        "brdy": birth.isoformat(),
        "age": _age(birth, beijing_now().date()),
    }


def _insuinfo(person: InsuredPerson) -> dict:
    return {
        "balc": personal_account_balance(person=person) or ZERO,  # an employee's personal account
        "insutype": codes.INSUTYPE[person.scheme],
        "psn_type": codes.psn_type(scheme=person.scheme, retired=person.retired),
        "psn_insu_stas": "1" if person.is_active else "0",
        "psn_insu_date": None,
        "paus_insu_date": None,
        "cvlserv_flag": "0",
        "insuplc_admdvs": person.insured_region_id,
        "emp_name": person.employer,
    }


def _idetinfo(person: InsuredPerson) -> list[dict]:
    """The person's identities in force today (with their dates), then the medical-assistance category when no
    identity row already says it."""
    rows = [
        {
            "psn_idet_type": codes.IDET_TYPE[row.kind],
            "psn_type_lv": "",
            "memo": row.source,
            "begntime": f"{row.valid_from:%Y-%m-%d} 00:00:00",
            "endtime": f"{row.valid_to:%Y-%m-%d} 23:59:59" if row.valid_to else None,
        }
        for row in identity_rows_on(person, beijing_now().date()).order_by("valid_from", "kind")
        if row.kind in codes.IDET_TYPE
    ]
    idet = codes.IDET_TYPE.get(person.assistance_category)
    if idet and idet not in {row["psn_idet_type"] for row in rows}:
        rows.append({"psn_idet_type": idet, "psn_type_lv": "", "memo": "", "begntime": None, "endtime": None})
    return rows


def t9001(call: Call, data: dict) -> dict:
    sign_in = f.node(data, "signIn")
    opter_no = f.text(sign_in, "opter_no", max_length=30, prefix="signIn.")
    ip = f.text(sign_in, "ip", max_length=64, prefix="signIn.")
    mac = f.text(sign_in, "mac", required=False, max_length=64, prefix="signIn.")
    now = timezone.now()
    record = HisSignIn.objects.create(
        sign_no=f"{now.astimezone(BEIJING):%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}",
        operator=call.operator,
        opter_no=opter_no,
        ip=ip,
        mac=mac,
        signed_in_at=now,
    )
    return {"signinoutb": {"sign_time": local_dt(now), "sign_no": record.sign_no}}


def t1101(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    cert_type = f.code(row, "mdtrt_cert_type", (codes.CERT_ECODE, codes.CERT_ID_NUMBER), prefix="data.")
    cert_no = f.text(row, "mdtrt_cert_no", max_length=400, prefix="data.")
    if cert_type == codes.CERT_ECODE:
        result = ecode_verify(
            token=cert_no,
            operator=call.operator,
            request_no=call.msgid,
            api_key=call.caller.api_key,
            institution_code=call.envelope["fixmedins_code"],
        )
        if not result.valid:
            raise HisRefusal(result.code, result.message)
        # The verify answers with the owner as its statement read them; the identity comes from the record.
        person = InsuredPerson.objects.get(pk=result.person.pk)
    else:
        name = f.text(row, "psn_name", max_length=50, prefix="data.")
        person = person_get_by_id_number(cert_no)
        if person is None or person.name != name:
            raise HisRefusal(
                HisErrorCode.PERSON_NOT_FOUND, _("No insured person has this ID number and name.")
            )
    audit_record(  # in autocommit: its own transaction
        actor=call.operator,
        action="his.person_read",
        target=person,
        data={"institution": call.institution.code, "mdtrt_cert_type": cert_type, "msgid": call.msgid},
    )
    return {"baseinfo": _identity(person), "insuinfo": [_insuinfo(person)], "idetinfo": _idetinfo(person)}


# --- Visits ----------------------------------------------------------------------------------------------


def _visit(call: Call, row: dict, *, prefix: str, for_update: bool = False) -> HisVisit:
    mdtrt_id = f.text(row, "mdtrt_id", max_length=30, prefix=prefix)
    visits = HisVisit.objects.select_related("person", "settlement", "institution")
    if for_update:
        visits = visits.select_for_update(of=("self",))
    visit = visits.filter(mdtrt_id=mdtrt_id, institution=call.institution).first()
    if visit is None:
        raise HisRefusal(HisErrorCode.UNKNOWN_VISIT, _("This institution has no visit with this mdtrt_id."))
    psn_no = f.text(row, "psn_no", required=False, max_length=30, prefix=prefix)
    if psn_no and psn_no != codes.psn_no(visit.person_id):
        raise HisRefusal(HisErrorCode.PSN_NO_MISMATCH, _("The psn_no is not the visit's person."))
    return visit


def _open_visit(call: Call, row: dict, *, prefix: str) -> HisVisit:
    visit = _visit(call, row, prefix=prefix, for_update=True)
    if visit.state == VisitState.CANCELLED:
        raise HisRefusal(HisErrorCode.VISIT_CANCELLED, _("The visit's registration was cancelled."))
    if visit.settlement_id is not None:
        raise HisRefusal(HisErrorCode.VISIT_SETTLED, _("The visit is already settled."))
    return visit


def _covered(call: Call, *, person, on_date, visit_type):
    """The filing that lets the person settle here directly, or the refusal ([no_filing_here] and the like)."""
    coverage = filing_coverage(
        person=person, institution=call.institution, on_date=on_date, service=visit_type
    )
    if not coverage.applies:
        code = HisErrorCode.NO_FILING_HERE.value if coverage.reason in NO_FILING_REASONS else coverage.reason
        message = (
            _(
                "The insured person has no filing for cross-provincial treatment in force here; settle back home."
            )
            if code == HisErrorCode.NO_FILING_HERE
            else coverage.message
        )
        raise HisRefusal(code, message)
    return coverage.filing


def _register(call: Call, row: dict, *, prefix: str, med_types, default_med_type: str) -> HisVisit:
    """A visit of the person at this institution, using the e-code once (as consume does); an admission may be
    registered by ID number instead (it is then settled by filing and ID number, as the API allows)."""
    psn_no = f.text(row, "psn_no", max_length=30, prefix=prefix)
    insutype = f.code(row, "insutype", tuple(codes.SCHEME_OF_INSUTYPE), prefix=prefix)
    begntime = f.moment(row, "begntime", prefix=prefix)
    cert_type = f.code(row, "mdtrt_cert_type", (codes.CERT_ECODE, codes.CERT_ID_NUMBER), prefix=prefix)
    cert_no = f.text(row, "mdtrt_cert_no", max_length=400, prefix=prefix)
    med_type = f.code(row, "med_type", med_types, required=False, prefix=prefix) or default_med_type
    ipt_otp_no = f.text(row, "ipt_otp_no", required=False, max_length=30, prefix=prefix) or f.text(
        row, "ipt_no", required=False, max_length=30, prefix=prefix
    )
    inpatient = med_type in codes.INPATIENT_MED_TYPES
    if cert_type != codes.CERT_ECODE and not inpatient:
        raise HisRefusal(
            HisErrorCode.CERT_TYPE_NOT_SUPPORTED,
            _("Register the visit with the person's e-code (mdtrt_cert_type 01)."),
        )
    person = _person_of_psn_no(psn_no)
    if codes.INSUTYPE[person.scheme] != insutype:
        raise HisRefusal(f.invalid(prefix + "insutype").code, _("The insutype is not the person's scheme."))
    if cert_type == codes.CERT_ID_NUMBER and cert_no.upper() != person.id_number:
        raise HisRefusal(
            HisErrorCode.PSN_NO_MISMATCH, _("The ID number is not the one of the person of psn_no.")
        )
    # Checked before the code is used, so that a refusal leaves nothing behind; on today's date, as the use is.
    _covered(
        call,
        person=person,
        on_date=beijing_now().date(),
        visit_type=codes.MED_TYPE_VISIT[med_type],
    )
    visit = dict(med_type=med_type, insutype=insutype, ipt_otp_no=ipt_otp_no, begntime=begntime)
    if cert_type == codes.CERT_ID_NUMBER:  # an admission without a scan: settled by filing and ID number
        with transaction.atomic():
            return _visit_create(call, person=person, use_id=None, **visit)
    result = ecode_consume(
        token=cert_no,
        operator=call.operator,
        request_no=call.msgid,
        api_key=call.caller.api_key,
        institution_code=call.envelope["fixmedins_code"],
    )
    if not result.valid:
        raise HisRefusal(result.code, result.message)
    if result.person.pk != person.pk:
        raise HisRefusal(HisErrorCode.PSN_NO_MISMATCH, _("The e-code is not the person's of psn_no."))
    with transaction.atomic():
        return _visit_create(call, person=person, use_id=result.use_id, **visit)


def _visit_create(call: Call, *, person, use_id, med_type, insutype, ipt_otp_no, begntime) -> HisVisit:
    visit = HisVisit.objects.create(
        mdtrt_id=f"{beijing_now():%Y%m%d}{secrets.randbelow(10**16):016d}",
        institution=call.institution,
        person=person,
        operator=call.operator,
        code_event_id=use_id,
        med_type=med_type,
        insutype=insutype,
        ipt_otp_no=ipt_otp_no,
        begntime=begntime,
    )
    audit_record(
        actor=call.operator,
        action="his.visit_register",
        target=visit,
        to_state=visit.state,
        data={"institution": call.institution.code, "med_type": med_type, "msgid": call.msgid},
    )
    return visit


def t2201(call: Call, data: dict) -> dict:
    visit = _register(
        call,
        f.node(data, "data"),
        prefix="data.",
        med_types=codes.OUTPATIENT_MED_TYPES,
        default_med_type="11",
    )
    return {
        "data": {
            "mdtrt_id": visit.mdtrt_id,
            "psn_no": codes.psn_no(visit.person_id),
            "ipt_otp_no": visit.ipt_otp_no,
        }
    }


def _cancel_visit(call: Call, row: dict, *, prefix: str) -> dict:
    visit = _open_visit(call, row, prefix=prefix)
    visit.state = VisitState.CANCELLED
    visit.save(update_fields=["state"])
    audit_record(
        actor=call.operator,
        action="his.visit_cancel",
        target=visit,
        from_state=VisitState.REGISTERED,
        to_state=visit.state,
        data={"msgid": call.msgid},
    )
    return {}


def t2202(call: Call, data: dict) -> dict:
    return _cancel_visit(call, f.node(data, "data"), prefix="data.")


def _diagnoses(data: dict) -> list[dict]:
    rows = f.nodes(data, "diseinfo") if data.get("diseinfo") not in (None, "") else []
    out = []
    for n, row in enumerate(rows):
        prefix = f"diseinfo[{n}]."
        out.append(
            {
                "diag_type": f.text(row, "diag_type", max_length=3, prefix=prefix),
                "diag_srt_no": f.text(row, "diag_srt_no", required=False, max_length=10, prefix=prefix),
                "diag_code": f.text(row, "diag_code", max_length=30, prefix=prefix),
                "diag_name": f.text(row, "diag_name", max_length=100, prefix=prefix),
                "diag_time": f.text(row, "diag_time", required=False, max_length=19, prefix=prefix),
            }
        )
    return out


def t2203(call: Call, data: dict) -> dict:
    info = f.node(data, "mdtrtinfo")
    visit = _open_visit(call, info, prefix="mdtrtinfo.")
    med_type = f.code(info, "med_type", codes.OUTPATIENT_MED_TYPES, prefix="mdtrtinfo.")
    disease = ""
    if med_type in codes.CHRONIC_MED_TYPES:
        given = f.text(info, "opsp_dise_code", required=False, max_length=30, prefix="mdtrtinfo.")
        if given and given not in codes.CHRONIC_DISEASE:
            raise f.invalid("mdtrtinfo.opsp_dise_code")
        disease = codes.CHRONIC_DISEASE.get(given, "")
    visit.med_type = med_type
    visit.disease = disease
    visit.diagnoses = _diagnoses(data)
    visit.save(update_fields=["med_type", "disease", "diagnoses"])
    return {}


# --- Fees ------------------------------------------------------------------------------------------------


def _lines(institution, fees) -> list[tuple[calculator.Line, calculator.CatalogueEntry | None]]:
    """Each fee as the treatment place's catalogue classifies it (the settlement's own itemising)."""
    catalogue = catalogue_entries(
        province=province_code(institution.region_id), codes=[fee.code for fee in fees]
    )
    lines = calculator.itemise(
        [
            calculator.BillItem(
                code=fee.code,
                quantity=fee.quantity,
                unit_price=fee.unit_price,
                name=fee.name,
                restricted_use_met=fee.lmt_used_flag,
            )
            for fee in fees
        ],
        catalogue,
        institution.level,
    )
    return [(line, catalogue.get(line.code)) for line in lines]


def _item_answer(fee: HisFee, line: calculator.Line, entry) -> dict:
    if line.self_pay_reason and line.self_pay_reason != calculator.OVER_PAYMENT_STANDARD:
        prop = Decimal("1")  # wholly self-paid: not listed, class C, a restriction not met
    elif line.coverage_class == calculator.CLASS_A:
        prop = Decimal("0")
    elif line.coverage_class == calculator.CLASS_B:
        prop = entry.first_share_rate
    else:
        prop = Decimal("1")
    return {
        "feedetl_sn": fee.feedetl_sn,
        "det_item_fee_sumamt": line.amount,
        "cnt": fee.quantity,
        "pric": fee.unit_price,
        "pric_uplmt_amt": entry.max_price if entry is not None and entry.max_price is not None else ZERO,
        "selfpay_prop": prop,
        "fulamt_ownpay_amt": line.self_paid - line.overlmt_selfpay,
        "overlmt_amt": line.overlmt_selfpay,
        "preselfpay_amt": line.first_share,
        "inscp_scp_amt": line.eligible,
        "chrgitm_lv": codes.CHRGITM_LV[line.coverage_class],
        "med_chrgitm_type": codes.MED_CHRGITM_TYPE.get(line.category, "14"),
        "lmt_used_flag": "1" if fee.lmt_used_flag else "0",
        "memo": "",
    }


def _upload_fees(call: Call, rows: list[dict], *, name: str, med_types) -> dict:
    if not rows:
        raise f.missing(name)
    visits: dict[str, HisVisit] = {}
    fees = []
    seen = set()
    for n, row in enumerate(rows):
        prefix = f"{name}[{n}]."
        mdtrt_id = f.text(row, "mdtrt_id", max_length=30, prefix=prefix)
        if mdtrt_id not in visits:
            visits[mdtrt_id] = _open_visit(call, row, prefix=prefix)
            if visits[mdtrt_id].med_type not in med_types:
                raise HisRefusal(HisErrorCode.WRONG_MED_TYPE, _("med_type is not the visit's."))
        visit = visits[mdtrt_id]
        sn = f.text(row, "feedetl_sn", max_length=30, prefix=prefix)
        quantity = f.number(row, "cnt", places=4, prefix=prefix)  # N16,4
        price = f.number(row, "pric", places=6, prefix=prefix, limit=Decimal("1e10"))  # N16,6
        total = f.money(row, "det_item_fee_sumamt", prefix=prefix)
        if quantity <= 0:
            raise f.invalid(prefix + "cnt")
        if price < 0:
            raise f.invalid(prefix + "pric")
        if calculator.to_fen(quantity * price) != total:
            raise HisRefusal(
                HisErrorCode.FEE_AMOUNT_MISMATCH,
                _("%(field)s is not cnt × pric to the fen.") % {"field": prefix + "det_item_fee_sumamt"},
            )
        if (visit.pk, sn) in seen or visit.fees.filter(feedetl_sn=sn, cancelled=False).exists():
            raise HisRefusal(
                HisErrorCode.DUPLICATE_FEE,
                _("%(field)s was already uploaded for this visit.") % {"field": prefix + "feedetl_sn"},
            )
        seen.add((visit.pk, sn))
        fees.append(
            HisFee(
                visit=visit,
                feedetl_sn=sn,
                chrg_bchno=f.text(row, "chrg_bchno", required=False, max_length=30, prefix=prefix),
                code=f.text(row, "med_list_codg", max_length=50, prefix=prefix),
                name=f.text(row, "medins_list_name", required=False, max_length=200, prefix=prefix)
                or f.text(row, "medins_list_codg", required=False, max_length=200, prefix=prefix),
                quantity=quantity,
                unit_price=price,
                amount=total,
                occurred_at=f.moment(row, "fee_ocur_time", required=False, prefix=prefix),
                lmt_used_flag=f.code(row, "lmt_used_flag", codes.FLAGS, required=False, prefix=prefix) == "1",
            )
        )
    HisFee.objects.bulk_create(fees)
    lines = _lines(call.institution, fees)
    return {
        "result": [_item_answer(fee, line, entry) for fee, (line, entry) in zip(fees, lines, strict=True)]
    }


def t2204(call: Call, data: dict) -> dict:
    return _upload_fees(
        call, f.nodes(data, "feedetail"), name="feedetail", med_types=codes.OUTPATIENT_MED_TYPES
    )


def t2205(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    visit = _open_visit(call, row, prefix="data.")
    batch = f.text(row, "chrg_bchno", max_length=30, prefix="data.")
    fees = visit.fees.filter(cancelled=False)
    if batch != "0000":
        fees = fees.filter(chrg_bchno=batch)
    fees.update(cancelled=True)
    return {}


# --- Settlement ------------------------------------------------------------------------------------------


def _bill(visit: HisVisit) -> list[HisFee]:
    fees = list(visit.fees.filter(cancelled=False).order_by("pk"))
    if not fees:
        raise HisRefusal(HisErrorCode.NO_FEES, _("The visit has no fee details to settle."))
    return fees


def _check_sumamt(row: dict, fees: list[HisFee]) -> None:
    sumamt = f.money(row, "medfee_sumamt", prefix="data.")
    ours = sum((fee.amount for fee in fees), ZERO)
    if sumamt != ours:
        raise HisRefusal(
            HisErrorCode.MEDFEE_MISMATCH,
            _("medfee_sumamt is not the sum of the uploaded fee details (%(ours)s).") % {"ours": ours},
        )


@dataclass(frozen=True)
class Amounts:
    """The split in the interface's terms (from a settlement or a preview)."""

    total: Decimal
    self_paid: Decimal
    first_share: Decimal
    eligible: Decimal
    deductible: Decimal
    ratio: Decimal
    basic: Decimal
    critical: Decimal
    assistance: Decimal
    person_pays: Decimal
    overlmt: Decimal  # the part of self_paid above the payment standards
    large_amount: Decimal
    account_pay: Decimal
    balance_after: Decimal | None  # the personal account's balance after (None: not used)

    @property
    def funds(self) -> Decimal:
        return self.basic + self.large_amount + self.critical + self.assistance


def _amounts_of_settlement(s) -> Amounts:
    return Amounts(
        total=s.total,
        self_paid=s.self_paid,
        first_share=s.first_share,
        eligible=s.eligible,
        deductible=s.deductible,
        ratio=s.ratio,
        basic=s.basic_fund,
        critical=s.critical_fund,
        assistance=s.assistance_fund,
        person_pays=s.person_pays,
        overlmt=s.overlmt_selfpay,
        large_amount=s.large_amount_fund,
        account_pay=s.account_pay,
        balance_after=s.account_balance_after,
    )


def setlinfo(*, visit: HisVisit, amounts: Amounts, sign: int = 1, balc: Decimal | None = None) -> dict:
    """setlinfo: our split, field by field; `sign` -1 for a cancellation's answer. `balc` the personal account's
    balance to show (default: after this settlement, 0.00 when the account was not used)."""
    person = visit.person
    critical_employee = person.scheme == "employee"
    if balc is None:
        balc = amounts.balance_after if amounts.balance_after is not None else ZERO

    def m(value: Decimal) -> Decimal:
        return (value * sign).quantize(Decimal("0.01")) + ZERO

    identity = _identity(person)
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": identity["psn_no"],
        "psn_name": identity["psn_name"],
        "psn_cert_type": identity["psn_cert_type"],
        "certno": identity["certno"],
        "gend": identity["gend"],
        "naty": "",
        "brdy": identity["brdy"],
        "age": identity["age"],
        "insutype": visit.insutype,
        "psn_type": codes.psn_type(scheme=person.scheme, retired=person.retired),
        "cvlserv_flag": "0",
        "mdtrt_cert_type": codes.CERT_ECODE,
        "med_type": visit.med_type,
        "medfee_sumamt": m(amounts.total),
        "fulamt_ownpay_amt": m(amounts.self_paid - amounts.overlmt),
        "overlmt_selfpay": m(amounts.overlmt),
        "preselfpay_amt": m(amounts.first_share),
        "inscp_scp_amt": m(amounts.eligible),
        "act_pay_dedc": m(amounts.deductible),
        "hifp_pay": m(amounts.basic),
        "pool_prop_selfpay": amounts.ratio,
        "cvlserv_pay": m(ZERO),
        "hifes_pay": m(ZERO),
        "hifmi_pay": m(ZERO if critical_employee else amounts.critical),
        "hifob_pay": m(amounts.large_amount + (amounts.critical if critical_employee else ZERO)),
        "maf_pay": m(amounts.assistance),
        "oth_pay": m(ZERO),
        "fund_pay_sumamt": m(amounts.funds),
        "psn_part_amt": m(amounts.person_pays),
        "acct_pay": m(amounts.account_pay),
        "psn_cash_pay": m(amounts.person_pays - amounts.account_pay),
        "hosp_part_amt": m(ZERO),
        "balc": balc + ZERO,
        "acct_mulaid_pay": m(ZERO),
        "clr_optins": person.insured_region_id,
        "clr_way": "1",
        "clr_type": codes.clr_type(
            visit_type=codes.MED_TYPE_VISIT[visit.med_type], institution_kind=visit.institution.kind
        ),
    }


def setldetail(*, scheme: str, amounts: Amounts, sign: int = 1) -> list[dict]:
    """One line per fund_pay_type paid (funds of one type summed), then the personal account's line."""
    paid: dict[str, Decimal] = {}
    for fund_type, amount in (
        (codes.FUND_BASIC[scheme], amounts.basic),
        (codes.FUND_LARGE_AMOUNT, amounts.large_amount),
        (codes.FUND_CRITICAL[scheme], amounts.critical),
        (codes.FUND_ASSISTANCE, amounts.assistance),
        (codes.FUND_ACCOUNT, amounts.account_pay),
    ):
        paid[fund_type] = paid.get(fund_type, ZERO) + amount
    rows = []
    for fund_type, amount in paid.items():
        if amount:
            rows.append(
                {
                    "fund_pay_type": fund_type,
                    "inscp_scp_amt": amounts.eligible * sign + ZERO,
                    "crt_payb_lmt_amt": ZERO,
                    "fund_payamt": amount * sign + ZERO,
                    "fund_pay_type_name": codes.FUND_NAMES[fund_type],
                    "setl_proc_info": "",
                }
            )
    return rows


def _check_given_split(row: dict, amounts: Amounts) -> None:
    """The four amounts a HIS sends with 2207 (from the 2204 answers) must be ours; empty means not given."""
    for name, ours in (
        ("fulamt_ownpay_amt", amounts.self_paid - amounts.overlmt),
        ("overlmt_selfpay", amounts.overlmt),
        ("preselfpay_amt", amounts.first_share),
        ("inscp_scp_amt", amounts.eligible),
    ):
        given = f.money(row, name, required=False, prefix="data.")
        if given is not None and given != ours:
            raise HisRefusal(
                HisErrorCode.SPLIT_MISMATCH,
                _("%(field)s is not the split of the uploaded fee details (%(ours)s).")
                % {"field": "data." + name, "ours": ours},
            )


def _bill_of(call: Call, *, prefix: str, med_types) -> tuple[HisVisit, dict, dict]:
    """The visit, the request's data and the arguments of its settlement (the same for 2206 and 2207)."""
    row = f.node(call.envelope["input"], "data")
    visit = _open_visit(call, row, prefix=prefix)
    med_type = f.code(
        row, "med_type", med_types, required=visit.med_type not in codes.INPATIENT_MED_TYPES, prefix=prefix
    )
    if visit.med_type not in med_types or (med_type and med_type != visit.med_type):
        raise HisRefusal(HisErrorCode.WRONG_MED_TYPE, _("med_type is not the visit's."))
    if visit.med_type in codes.INPATIENT_MED_TYPES:
        if f.code(row, "mid_setl_flag", ("0", "1"), prefix=prefix) == "1":
            raise HisRefusal(
                HisErrorCode.MID_SETTLEMENT_NOT_SUPPORTED,
                _("Mid-stay settlement is not offered: settle the stay at discharge."),
            )
        if visit.endtime is None:
            raise HisRefusal(
                HisErrorCode.NOT_DISCHARGED, _("Record the discharge (2402) before settling the stay.")
            )
    fees = _bill(visit)
    _check_sumamt(row, fees)
    local_begin = visit.begntime.astimezone(BEIJING).date()
    dates = (
        {"admission_date": local_begin, "discharge_date": visit.endtime.astimezone(BEIJING).date()}
        if visit.endtime
        else {"visit_date": local_begin}
    )
    arguments = {
        "operator": call.operator,
        "visit_type": codes.MED_TYPE_VISIT[visit.med_type],
        "items": [
            ItemInput(
                code=fee.code,
                quantity=fee.quantity,
                unit_price=fee.unit_price,
                name=fee.name,
                lmt_used_flag=fee.lmt_used_flag,
            )
            for fee in fees
        ],
        "use_id": visit.code_event_id,
        "request_no": call.msgid,
        "disease": visit.disease,
        # The person's agreement to pay from the personal account (the settlement decides where it may).
        "acct_used_flag": f.code(row, "acct_used_flag", codes.FLAGS, required=False, prefix=prefix) == "1",
        **dates,
    }
    # Admitted by ID number: settled by the filing in force here at discharge and the ID number, as the API does.
    if visit.code_event_id is None:
        filing = _covered(
            call, person=visit.person, on_date=dates["discharge_date"], visit_type=arguments["visit_type"]
        )
        arguments.update(filing_id=filing.pk, id_number=visit.person.id_number)
    return visit, row, arguments


def _preview(call: Call, *, prefix: str, med_types) -> dict:
    visit, _row, arguments = _bill_of(call, prefix=prefix, med_types=med_types)
    preview = settlement_preview(**arguments)
    split = preview.split
    amounts = Amounts(
        total=split.total,
        self_paid=split.self_paid,
        first_share=split.first_share,
        eligible=split.eligible,
        deductible=split.deductible,
        ratio=split.ratio,
        basic=split.basic_fund,
        critical=split.critical_fund,
        assistance=split.assistance,
        person_pays=split.person_pays,
        overlmt=split.overlmt_selfpay,
        large_amount=split.large_amount,
        account_pay=split.account_pay,
        balance_after=preview.account.balance - split.account_pay if preview.account is not None else None,
    )
    info = setlinfo(visit=visit, amounts=amounts)
    info.update(setl_id="", setl_time=None, medins_setl_id=call.msgid)
    return {"setlinfo": info, "setldetail": setldetail(scheme=visit.person.scheme, amounts=amounts)}


def _settle(call: Call, *, prefix: str, med_types) -> dict:
    visit, row, arguments = _bill_of(call, prefix=prefix, med_types=med_types)
    settlement, _created = settlement_create(**arguments)
    amounts = _amounts_of_settlement(settlement)
    _check_given_split(row, amounts)  # raised inside the transaction: the settlement is undone
    visit.settlement = settlement
    visit.save(update_fields=["settlement"])
    info = setlinfo(visit=visit, amounts=amounts)
    info.update(
        setl_id=settlement.number, setl_time=local_dt(settlement.settled_at), medins_setl_id=call.msgid
    )
    return {"setlinfo": info, "setldetail": setldetail(scheme=visit.person.scheme, amounts=amounts)}


def t2206(call: Call, data: dict) -> dict:
    return _preview(call, prefix="data.", med_types=codes.OUTPATIENT_MED_TYPES)


def t2207(call: Call, data: dict) -> dict:
    return _settle(call, prefix="data.", med_types=codes.OUTPATIENT_MED_TYPES)


def _settled_visit(call: Call, row: dict, *, prefix: str) -> HisVisit:
    visit = _visit(call, row, prefix=prefix)
    setl_id = f.text(row, "setl_id", max_length=30, prefix=prefix)
    if visit.settlement is None or visit.settlement.number != setl_id:
        raise HisRefusal(HisErrorCode.UNKNOWN_SETTLEMENT, _("The visit has no settlement with this setl_id."))
    return visit


def _cancel_settlement(call: Call, *, prefix: str) -> dict:
    row = f.node(call.envelope["input"], "data")
    visit = _settled_visit(call, row, prefix=prefix)
    settlement = settlement_reverse(settlement_id=visit.settlement_id, operator=call.operator, reason="HIS")
    amounts = _amounts_of_settlement(settlement)
    balc = personal_account_balance(person=visit.person) if amounts.balance_after is not None else None
    info = setlinfo(visit=visit, amounts=amounts, sign=-1, balc=balc)
    info.update(
        setl_id=settlement.number,
        setl_time=local_dt(settlement.reversed_at),
        pdn_cash_pay=info["psn_cash_pay"],
        medins_setl_id=call.msgid,
    )
    return {"setlinfo": info, "setldetail": setldetail(scheme=visit.person.scheme, amounts=amounts, sign=-1)}


def t2208(call: Call, data: dict) -> dict:
    return _cancel_settlement(call, prefix="data.")


def t5203(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    visit = _settled_visit(call, row, prefix="data.")
    settlement = visit.settlement
    amounts = _amounts_of_settlement(settlement)
    info = setlinfo(visit=visit, amounts=amounts)
    info["psn_pay"] = info.pop("psn_part_amt")
    info["cash_payamt"] = info.pop("psn_cash_pay")
    info.update(
        setl_id=settlement.number,
        setl_time=local_dt(settlement.settled_at),
        medins_setl_id=settlement.request_no,
        refd_setl_flag="1" if settlement.is_reversed else "0",
    )
    return {"setlinfo": info, "setldetail": setldetail(scheme=visit.person.scheme, amounts=amounts)}


# --- Inpatient -------------------------------------------------------------------------------------------


def _inpatient_visit(call: Call, row: dict, *, prefix: str) -> HisVisit:
    visit = _open_visit(call, row, prefix=prefix)
    if visit.med_type not in codes.INPATIENT_MED_TYPES:
        raise HisRefusal(HisErrorCode.NOT_INPATIENT, _("The visit is not an inpatient stay."))
    return visit


def t2401(call: Call, data: dict) -> dict:
    info = f.node(data, "mdtrtinfo")
    visit = _register(
        call, info, prefix="mdtrtinfo.", med_types=codes.INPATIENT_MED_TYPES, default_med_type="21"
    )
    diagnoses = _diagnoses(data)
    if diagnoses:
        HisVisit.objects.filter(pk=visit.pk).update(diagnoses=diagnoses)
    return {
        "result": {
            "mdtrt_id": visit.mdtrt_id,
            "psn_no": codes.psn_no(visit.person_id),
            "ipt_otp_no": visit.ipt_otp_no,
        }
    }


def t2404(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    _inpatient_visit(call, row, prefix="data.")
    return _cancel_visit(call, row, prefix="data.")


def t2301(call: Call, data: dict) -> dict:
    return _upload_fees(
        call, f.nodes(data, "feedetail"), name="feedetail", med_types=codes.INPATIENT_MED_TYPES
    )


def t2302(call: Call, data: dict) -> dict:
    rows = f.nodes(data, "data")
    for n, row in enumerate(rows):
        prefix = f"data[{n}]."
        visit = _inpatient_visit(call, row, prefix=prefix)
        sn = f.text(row, "feedetl_sn", max_length=30, prefix=prefix)
        fees = visit.fees.filter(cancelled=False)
        if sn != "0000":
            fees = fees.filter(feedetl_sn=sn)
        fees.update(cancelled=True)
    return {}


def t2402(call: Call, data: dict) -> dict:
    info = f.node(data, "dscginfo")
    visit = _inpatient_visit(call, info, prefix="dscginfo.")
    if visit.endtime is not None:
        raise HisRefusal(HisErrorCode.ALREADY_DISCHARGED, _("The discharge is already recorded."))
    endtime = f.moment(info, "endtime", prefix="dscginfo.")
    if endtime < visit.begntime:
        raise HisRefusal(HisErrorCode.INVALID_FIELD, _("The discharge cannot precede the admission."))
    f.text(info, "dscg_way", required=False, max_length=6, prefix="dscginfo.")
    visit.endtime = endtime
    diagnoses = _diagnoses(data)
    visit.diagnoses = diagnoses or visit.diagnoses
    visit.save(update_fields=["endtime", "diagnoses"])
    return {}


def t2405(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    visit = _inpatient_visit(call, row, prefix="data.")
    if visit.endtime is None:
        raise HisRefusal(HisErrorCode.NOT_DISCHARGED, _("No discharge is recorded."))
    visit.endtime = None
    visit.save(update_fields=["endtime"])
    return {}


def t2303(call: Call, data: dict) -> dict:
    return _preview(call, prefix="data.", med_types=codes.INPATIENT_MED_TYPES)


def t2304(call: Call, data: dict) -> dict:
    return _settle(call, prefix="data.", med_types=codes.INPATIENT_MED_TYPES)


def t2305(call: Call, data: dict) -> dict:
    return _cancel_settlement(call, prefix="data.")


# --- Reconciliation --------------------------------------------------------------------------------------


def t3201(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    p = "data."
    insutype = f.code(row, "insutype", tuple(codes.SCHEME_OF_INSUTYPE), prefix=p)
    clr_type = f.code(row, "clr_type", ("11", "21", "41"), prefix=p)
    setl_optins = f.text(row, "setl_optins", max_length=6, prefix=p)
    start = f.day(row, "stmt_begndate", prefix=p)
    end = f.day(row, "stmt_enddate", prefix=p)
    if end < start:
        raise f.invalid(p + "stmt_enddate")
    given = {
        "medfee_sumamt": f.money(row, "medfee_sumamt", prefix=p),
        "fund_pay_sumamt": f.money(row, "fund_pay_sumamt", prefix=p),
        "acct_pay": f.money(row, "acct_pay", prefix=p),
        "fixmedins_setl_cnt": f.number(row, "fixmedins_setl_cnt", places=0, prefix=p),
    }
    inpatient = clr_type == "21"
    # The clearing type of outpatient bills is the institution's (41 at a pharmacy, 11 elsewhere).
    ours_kind = codes.clr_type(
        visit_type="inpatient" if inpatient else "", institution_kind=call.institution.kind
    )
    totals = (
        settlement_totals(
            institution=call.institution,
            start=start,
            end=end,
            scheme=codes.SCHEME_OF_INSUTYPE[insutype],
            insured_region=setl_optins,
            inpatient=inpatient,
        )
        if ours_kind == clr_type
        else {"count": 0, "total": ZERO, "fund_total": ZERO, "account_pay": ZERO}
    )
    ours = {
        "medfee_sumamt": totals["total"],
        "fund_pay_sumamt": totals["fund_total"],
        "acct_pay": totals["account_pay"],
        "fixmedins_setl_cnt": Decimal(totals["count"]),
    }
    differences = [
        _("%(field)s: yours %(given)s, ours %(ours)s, difference %(diff)s")
        % {"field": name, "given": given[name], "ours": ours[name], "diff": given[name] - ours[name]}
        for name in given
        if given[name] != ours[name]
    ]
    return {
        "stmtinfo": {
            "setl_optins": setl_optins,
            "stmt_rslt": "1" if differences else "0",
            "stmt_rslt_dscr": "; ".join(differences) if differences else _("Balanced."),
        }
    }


# --- Referral filing by the referring hospital ----------------------------------------------------------


def t2501(call: Call, data: dict) -> dict:
    row = f.node(data, "refmedin")
    p = "refmedin."
    person = _person_of_psn_no(f.text(row, "psn_no", max_length=30, prefix=p))
    insutype = f.code(row, "insutype", tuple(codes.SCHEME_OF_INSUTYPE), prefix=p)
    if codes.INSUTYPE[person.scheme] != insutype:
        raise HisRefusal(HisErrorCode.INVALID_FIELD, _("The insutype is not the person's scheme."))
    filing = filing_refer(
        person=person,
        actor=call.operator,
        destination=f.text(row, "mdtrtarea_admdvs", max_length=6, prefix=p),
        start_date=f.day(row, "begndate", prefix=p),
        end_date=f.day(row, "enddate", required=False, prefix=p),
        diagnosis_code=f.text(row, "diag_code", max_length=30, prefix=p),
        diagnosis_name=f.text(row, "diag_name", max_length=100, prefix=p),
        condition=f.text(row, "dise_cond_dscr", required=False, max_length=2000, prefix=p),
        destination_institution=f.text(row, "reflin_medins_no", required=False, max_length=12, prefix=p),
        referral_type=f.text(row, "refl_type", max_length=6, prefix=p),
        referral_date=f.day(row, "refl_date", prefix=p),
        reason=f.text(row, "refl_rea", max_length=2000, prefix=p),
        opinion=f.text(row, "refl_opnn", max_length=2000, prefix=p),
    )
    return {"result": {"trt_dcla_detl_sn": filing.serial}}


def t2502(call: Call, data: dict) -> dict:
    row = f.node(data, "data")
    p = "data."
    serial = f.text(row, "trt_dcla_detl_sn", max_length=30, prefix=p)
    person = _person_of_psn_no(f.text(row, "psn_no", max_length=30, prefix=p))
    filing = Filing.objects.filter(serial=serial, person=person, group="referral").first()
    if filing is None:
        raise HisRefusal(
            HisErrorCode.UNKNOWN_FILING, _("The person has no referral filing with this number.")
        )
    filing_refer_cancel(
        filing=filing,
        actor=call.operator,
        reason=f.text(row, "memo", required=False, max_length=200, prefix=p),
    )
    return {}


# The e-code's checks and uses are recorded whatever follows (a refused code is recorded too): the
# transactions that make them are not wrapped in one database transaction with their answer.
RECORDS_CODE_CHECKS = {"1101", "2201", "2401"}

TRANSACTIONS = {
    "9001": t9001,
    "1101": t1101,
    "2201": t2201,
    "2202": t2202,
    "2203": t2203,
    "2204": t2204,
    "2205": t2205,
    "2206": t2206,
    "2207": t2207,
    "2208": t2208,
    "5203": t5203,
    "2401": t2401,
    "2404": t2404,
    "2301": t2301,
    "2302": t2302,
    "2402": t2402,
    "2405": t2405,
    "2303": t2303,
    "2304": t2304,
    "2305": t2305,
    "3201": t3201,
    "2501": t2501,
    "2502": t2502,
}


def run(call: Call) -> dict:
    """The output of one transaction, or HisRefusal; a service's refusal keeps its code and message."""
    handler = TRANSACTIONS[call.envelope["infno"]]
    try:
        return handler(call, call.envelope["input"])
    except ServiceError as exc:
        raise HisRefusal(exc.code, exc.message) from None
