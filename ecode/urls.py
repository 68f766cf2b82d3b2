from django.urls import path

from . import api

# Under /api/v1/ecode/ (config/urls.py). The counters' checks come first: they are the busiest routes.
urlpatterns = [
    path("verify", api.VerifyApi.as_view(), name="ecode-verify"),
    path("consume", api.ConsumeApi.as_view(), name="ecode-consume"),
    path("", api.CredentialApi.as_view(), name="ecode-credential"),
    path("activate", api.ActivateApi.as_view(), name="ecode-activate"),
    path("current", api.CurrentTokenApi.as_view(), name="ecode-current"),
    path("current.svg", api.CurrentSvgApi.as_view(), name="ecode-current-svg"),
    path("current.png", api.CurrentPngApi.as_view(), name="ecode-current-png"),
    path("history", api.HistoryApi.as_view(), name="ecode-history"),
]
