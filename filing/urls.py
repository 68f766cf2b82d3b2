from django.urls import path

from .api import (
    FilingCancelApi,
    FilingDetailApi,
    FilingDocumentApi,
    FilingDocumentUploadApi,
    FilingListCreateApi,
    FilingRulesApi,
    FilingSubmitApi,
)

urlpatterns = [
    path("filings/", FilingListCreateApi.as_view(), name="filings"),
    path("filings/rules", FilingRulesApi.as_view(), name="filing-rules"),
    path("filings/<int:filing_id>", FilingDetailApi.as_view(), name="filing"),
    path("filings/<int:filing_id>/submit", FilingSubmitApi.as_view(), name="filing-submit"),
    path("filings/<int:filing_id>/cancel", FilingCancelApi.as_view(), name="filing-cancel"),
    path("filings/<int:filing_id>/documents", FilingDocumentUploadApi.as_view(), name="filing-documents"),
    path(
        "filings/<int:filing_id>/documents/<int:document_id>",
        FilingDocumentApi.as_view(),
        name="filing-document",
    ),
]
