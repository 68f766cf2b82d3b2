"""The interface's one door: POST /his/v1/{infno} (or /his/v1/ with infno in the body). Parses the envelope,
authenticates, keeps the msgid's answer, and answers every request, refusals included, with the whole
envelope (never a 500)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from django.db import transaction
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .envelope import answer, beijing_now, dumps
from .errors import HisErrorCode, HisRefusal
from .gateway import authenticate
from .services import message_begin, message_finish, message_forget
from .transactions import RECORDS_CODE_CHECKS, TRANSACTIONS, Call, run

logger = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024


def _respond(body: dict | str, status: int = 200) -> HttpResponse:
    text = body if isinstance(body, str) else dumps(body)
    return HttpResponse(text, status=status, content_type="application/json; charset=utf-8")


def _err(refusal: HisRefusal) -> str:
    return f"[{refusal.code}] {refusal.message}"


def _envelope(raw: bytes, url_infno: str | None) -> dict:
    """The request envelope, or HisRefusal (400) for a body that is not one."""
    if len(raw) > MAX_BODY:
        raise HisRefusal(HisErrorCode.BAD_ENVELOPE, _("The request is too large."), status=400)
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HisRefusal(
            HisErrorCode.NOT_JSON, _("The request body is not UTF-8 JSON."), status=400
        ) from None
    if not isinstance(body, dict):
        raise HisRefusal(HisErrorCode.BAD_ENVELOPE, _("The request body is not a JSON object."), status=400)
    if url_infno is not None and body.get("infno") in (None, ""):
        body["infno"] = url_infno
    for name, limit in (("infno", 6), ("msgid", 30), ("fixmedins_code", 12)):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise HisRefusal(
                HisErrorCode.BAD_ENVELOPE,
                _("The envelope's %(field)s is missing or not a string of at most %(limit)s characters.")
                % {"field": name, "limit": limit},
                status=400,
            )
    if url_infno is not None and body["infno"] != url_infno:
        raise HisRefusal(
            HisErrorCode.BAD_ENVELOPE, _("The infno of the body is not the one of the URL."), status=400
        )
    if not isinstance(body.get("input"), dict):
        raise HisRefusal(HisErrorCode.BAD_ENVELOPE, _("The envelope's input is not an object."), status=400)
    return body


@csrf_exempt
def gateway(request, infno: str | None = None) -> HttpResponse:
    received = beijing_now()
    area = ""
    if request.method != "POST":
        with translation.override("zh-hans"):
            refusal = HisRefusal(
                HisErrorCode.METHOD_NOT_ALLOWED, _("The interface answers POST only."), status=405
            )
            response = _respond(answer(received=received, area=area, err_msg=_err(refusal)), refusal.status)
        response["Allow"] = "POST"
        return response
    with translation.override("zh-hans"):  # the interface speaks Chinese, whatever the client's headers
        try:
            caller = authenticate(request)
            area = caller.institution.region_id
            envelope = _envelope(request.body, infno)
            if envelope["fixmedins_code"] != caller.institution.code:
                raise HisRefusal(
                    HisErrorCode.OTHER_INSTITUTION,
                    _("fixmedins_code is not the institution of this terminal."),
                    status=403,
                )
            if envelope["infno"] not in TRANSACTIONS:
                raise HisRefusal(
                    HisErrorCode.UNKNOWN_INFNO, _("Unknown infno: %(infno)s") % {"infno": envelope["infno"]}
                )
        except HisRefusal as refusal:
            return _respond(answer(received=received, area=area, err_msg=_err(refusal)), refusal.status)
        except Exception as exc:  # the type only: a message may hold personal data
            logger.error("HIS gateway failed before the transaction: %s", type(exc).__name__)
            return _respond(answer(received=received, area=area, err_msg=_server_error()))
        return _answer(
            Call(caller=caller, envelope=envelope, msgid=envelope["msgid"], received=received), area
        )


def _server_error() -> str:
    return _err(
        HisRefusal(HisErrorCode.SERVER_ERROR, _("The request could not be completed; nothing was saved."))
    )


def _answer(call: Call, area: str) -> HttpResponse:
    message, stored = message_begin(
        institution=call.institution, msgid=call.msgid, infno=call.envelope["infno"]
    )
    if stored is not None:
        return _respond(stored)
    if message is None:
        refusal = HisRefusal(
            HisErrorCode.IN_PROGRESS, _("A request with this msgid is still being answered.")
        )
        return _respond(answer(received=call.received, area=area, err_msg=_err(refusal)))
    try:
        try:
            if call.envelope["infno"] in RECORDS_CODE_CHECKS:
                text = dumps(answer(received=call.received, area=area, output=run(call)))
                message_finish(message, text)
            else:
                with transaction.atomic():
                    text = dumps(answer(received=call.received, area=area, output=run(call)))
                    message_finish(message, text)
        except HisRefusal as refusal:
            text = dumps(answer(received=call.received, area=area, err_msg=_err(refusal)))
            message_finish(message, text)
    except Exception as exc:  # the type only: a message may hold personal data
        logger.error("HIS transaction %s failed: %s", call.envelope["infno"], type(exc).__name__)
        message_forget(message)
        return _respond(answer(received=call.received, area=area, err_msg=_server_error()))
    return _respond(text)
