"""Server-rendered settlement pages, included at the site root."""

from django.urls import path

from .views import settlement_receipt

urlpatterns = [
    path("settlements/<int:settlement_id>/receipt", settlement_receipt, name="settlement-receipt"),
]
