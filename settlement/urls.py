from django.urls import path

from .api import (
    CatalogueSearchApi,
    SettlementCorrectionApi,
    SettlementDetailApi,
    SettlementListCreateApi,
    SettlementPreviewApi,
    SettlementReverseApi,
)

urlpatterns = [
    path("settlements/", SettlementListCreateApi.as_view(), name="settlements"),
    path("settlements/catalogue", CatalogueSearchApi.as_view(), name="settlement-catalogue"),
    path("settlements/preview", SettlementPreviewApi.as_view(), name="settlement-preview"),
    path("settlements/<int:settlement_id>", SettlementDetailApi.as_view(), name="settlement"),
    path(
        "settlements/<int:settlement_id>/reverse", SettlementReverseApi.as_view(), name="settlement-reverse"
    ),
    path(
        "settlements/<int:settlement_id>/corrections",
        SettlementCorrectionApi.as_view(),
        name="settlement-corrections",
    ),
]
