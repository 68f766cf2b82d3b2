from django.urls import path

from . import api

urlpatterns = [
    path("ecode/", api.CredentialApi.as_view(), name="ecode-credential"),
    path("ecode/activate", api.ActivateApi.as_view(), name="ecode-activate"),
    path("ecode/current", api.CurrentTokenApi.as_view(), name="ecode-current"),
    path("ecode/current.svg", api.CurrentSvgApi.as_view(), name="ecode-current-svg"),
    path("ecode/current.png", api.CurrentPngApi.as_view(), name="ecode-current-png"),
    path("ecode/history", api.HistoryApi.as_view(), name="ecode-history"),
    path("ecode/verify", api.VerifyApi.as_view(), name="ecode-verify"),
    path("ecode/consume", api.ConsumeApi.as_view(), name="ecode-consume"),
]
