"""One error schema for the whole API (core.errors.ErrorSerializer): every documented error body refers to it."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_every_plain_error_response_of_the_schema_is_the_one_error_component():
    schema = Client().get("/api/schema/?format=json").json()
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"code", "message", "fields"}
    refs = set()
    for path in schema["paths"].values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                body = response.get("content", {}).get("application/json", {}).get("schema", {})
                if status.startswith(("4", "5")) and "$ref" in body:
                    refs.add(body["$ref"].rsplit("/", 1)[-1])
    # The counter's check refusals carry more (valid, used, coverage) and keep their own component.
    assert refs <= {"Error", "EcodeCheckRefusal"}
    assert "Error" in refs
    for path in ("/api/v1/ecode/activate", "/api/v1/auth/token"):
        errors = schema["paths"][path]["post"]["responses"]
        error = errors["409" if "ecode" in path else "400"]
        assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_refusal_names_the_input_it_is_about():
    from core.errors import CommonErrorCode, ServiceError, refusal

    error = refusal(CommonErrorCode.INVALID, "Too long.", "reason", status=409, reason_code="x")
    assert isinstance(error, ServiceError)
    assert (error.code, error.status_code) == ("invalid", 409)
    assert error.fields == {"reason": ["Too long."], "reason_code": "x"}
    plain = refusal("not_covered", "No.")
    assert (plain.fields, plain.status_code) == ({}, 400)
