from django.urls import path

from .views import gateway

urlpatterns = [
    path("", gateway, name="his-gateway"),
    path("<str:infno>", gateway, name="his-transaction"),
]
