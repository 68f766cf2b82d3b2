from django.urls import path

from .views import jwks

urlpatterns = [
    path(".well-known/ecode-keys.json", jwks, name="ecode-jwks"),
]
