"""The pages, at the site root: the insured person's phone pages and the counter page."""

from django.urls import path

from . import views, wizard

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("logout/everywhere/", views.sign_out_everywhere, name="logout-everywhere"),
    path("language/", views.language, name="language"),
    path("me/", views.me, name="me"),
    path("settlements/", views.settlements, name="settlements"),
    path("notices/", views.notices, name="notices"),
    path("notices/read-all/", views.notices_read_all, name="notices-read-all"),
    path("notices/<int:notice_id>/", views.notice_detail, name="notice"),
    path("ecode/", views.ecode, name="ecode"),
    path("ecode/current.json", views.ecode_current, name="ecode-current"),
    path("ecode/activate/", views.ecode_activate, name="ecode-activate"),
    path("filings/", views.filings, name="filings"),
    path("filings/new/", wizard.wizard_start, name="wizard"),
    path("filings/new/discard/", wizard.wizard_discard, name="wizard-discard"),
    path("filings/new/<slug:step>/", wizard.wizard_step, name="wizard-step"),
    path("filings/<int:filing_id>/", views.filing_detail, name="filing"),
    path("filings/<int:filing_id>/cancel/", views.filing_cancel, name="filing-cancel"),
    path("filings/<int:filing_id>/documents/", views.filing_document_add, name="filing-document-add"),
    path(
        "filings/<int:filing_id>/documents/<int:document_id>/",
        views.filing_document_download,
        name="filing-document",
    ),
    path(
        "filings/<int:filing_id>/documents/<int:document_id>/remove/",
        views.filing_document_remove,
        name="filing-document-remove",
    ),
    path("counter/", views.counter, name="counter"),
    path("counter/login/", views.counter_sign_in, name="counter-login"),
    path("counter/verify/", views.counter_verify, name="counter-verify"),
    path("counter/use/", views.counter_use, name="counter-use"),
]
