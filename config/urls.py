from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from accounts.api import LogoutApi, LogoutEverywhereApi, MeApi, TokenApi
from core.views import favicon, healthz, readyz
from reference.api import InstitutionListApi, RegionListApi

# The e-code's routes come first: a counter's check is the busiest request there is, and an include is tried
# pattern by pattern.
api_v1 = [
    path("ecode/", include("ecode.urls")),
    path("auth/token", TokenApi.as_view(), name="auth-token"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-everywhere", LogoutEverywhereApi.as_view(), name="auth-logout-everywhere"),
    path("me", MeApi.as_view(), name="me"),
    path("regions/", RegionListApi.as_view(), name="regions"),
    path("institutions/", InstitutionListApi.as_view(), name="institutions"),
    path("", include("filing.urls")),
    path("", include("notifications.urls")),
    path("", include("settlement.urls")),
]

admin.site.site_header = _("Cross-provincial medical insurance · Admin")
admin.site.site_title = _("yibao admin")
admin.site.index_title = _("Administration")
# At 1280 px the app sidebar would take a quarter of the width from the review queue; the home page and the
# breadcrumbs lead everywhere it does.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("his/v1/", include("his.urls")),
    # Public by decision (docs/security.md): the API is public and its description holds no data; every
    # endpoint checks its caller.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("", include("ecode.wellknown_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("settlement.page_urls")),
    path("", include("web.urls")),
]
