import logging

from django.conf import settings
from django.db import connections
from django.shortcuts import render

from . import db
from .cache import OUTAGE_ERRORS, OUTAGE_RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    """Adds a Content-Security-Policy: our pages load scripts, styles and images from our own origin only."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class OutageMiddleware:
    """A page whose request met Redis (cache or broker) away answers 503 with Retry-After, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OUTAGE_ERRORS):
            return None
        logger.warning("%s answered 503: %s", request.path, type(exception).__name__)
        response = render(request, "503.html", status=503)
        response["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
        return response


class ReplicaMiddleware:
    """Read-your-writes and the admin's changelists for core.db: a request that wrote to the primary pins its
    person there for REPLICA_PIN_SECONDS; a changelist shown (GET) reads the replica; a read whose replica
    failed under it runs again on the primary. Idle without a replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not db.replica_configured():
            return self.get_response(request)
        token = db.request_started(request)
        try:
            with connections[db.PRIMARY].execute_wrapper(db.watch_writes):
                response = self.get_response(request)
        finally:
            wrote = db.request_finished(token)
        if wrote:
            db.pin(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not db.replica_configured():
            return None
        request.replica_view = (view_func, view_args, view_kwargs)  # to run again if the replica fails
        match = request.resolver_match
        if (
            request.method in db.READ_METHODS
            and match is not None
            and match.namespace == "admin"
            and (match.url_name or "").endswith("_changelist")
        ):
            # Who is asking is read from the primary first: a session just signed in or out decides.
            if getattr(request, "user", None) is not None:
                request.user.is_authenticated  # noqa: B018 - loads the lazy user now
            db.read_replica_in_this_view()
        return None

    def process_exception(self, request, exception):
        # Only a read runs again, and only once: it changed nothing, and the primary has what it asked for.
        if not db.replica_configured() or not db.retry_on_primary(exception):
            return None
        view_func, view_args, view_kwargs = request.replica_view
        return view_func(request, *view_args, **view_kwargs)
