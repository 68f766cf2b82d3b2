from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from accounts.api import LogoutApi, LogoutEverywhereApi, MeApi, TokenApi
from core.views import healthz, readyz
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

admin.site.site_header = "医保跨省直接结算 · 经办管理"
admin.site.site_title = "yibao admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
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
