"""The published key set: what offline verifiers download and cache."""

from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.views.decorators.http import require_safe

from .keys import keyring

JWKS_MAX_AGE = 300


@require_safe
def jwks(request):
    """The JWKS (RFC 8037) of the keys that verify e-codes now; cacheable, with an ETag."""
    body, etag = keyring().jwks_at(timezone.now())
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/jwk-set+json")
        response["Access-Control-Allow-Origin"] = "*"
    for name, value in headers.items():
        response[name] = value
    return response
