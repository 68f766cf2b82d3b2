"""A HIS client written from ../shared/docs/his-interface.md only: the envelope, the gateway headers, msgids."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import secrets
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
_sequence = itertools.count(1)


class HisClient:
    def __init__(self, http, *, fixmedins_code: str, paasid: str = "", secret: str = "", api_key: str = ""):
        self.http = http  # django.test.Client
        self.fixmedins_code = fixmedins_code
        self.paasid, self.secret, self.api_key = paasid, secret, api_key
        self.sign_no = ""
        self.insuplc_admdvs = ""

    def msgid(self) -> str:
        now = dt.datetime.now(BEIJING)
        return f"{self.fixmedins_code}{now:%Y%m%d%H%M%S}{next(_sequence) % 10000:04d}"

    def headers(
        self, *, timestamp: str | None = None, nonce: str | None = None, signature: str | None = None
    ):
        if self.api_key:
            return {"HTTP_AUTHORIZATION": f"Api-Key {self.api_key}"}
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(16)
        signature = (
            signature or hashlib.sha256(f"{timestamp}{self.secret}{nonce}{timestamp}".encode()).hexdigest()
        )
        return {
            "HTTP_X_TIF_PAASID": self.paasid,
            "HTTP_X_TIF_TIMESTAMP": timestamp,
            "HTTP_X_TIF_NONCE": nonce,
            "HTTP_X_TIF_SIGNATURE": signature,
        }

    def envelope(self, infno: str, input: dict, *, msgid: str | None = None) -> dict:
        return {
            "infno": infno,
            "msgid": msgid or self.msgid(),
            "mdtrtarea_admvs": "110105",
            "insuplc_admdvs": self.insuplc_admdvs,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "0007",
            "opter_name": "窗口一",
            "inf_time": dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": self.fixmedins_code,
            "fixmedins_name": "示例医院",
            "sign_no": self.sign_no,
            "input": input,
        }

    def post_raw(self, body: bytes | str, *, path: str = "/his/v1/", **headers):
        return self.http.post(path, data=body, content_type="application/json", **(headers or self.headers()))

    def call(self, infno: str, input: dict, *, msgid: str | None = None, in_body: bool = False, **headers):
        """The response's JSON (money as Decimal) and its HTTP status."""
        body = json.dumps(self.envelope(infno, input, msgid=msgid), ensure_ascii=False, default=str)
        response = self.post_raw(body, path="/his/v1/" if in_body else f"/his/v1/{infno}", **headers)
        return json.loads(response.content, parse_float=Decimal), response.status_code
