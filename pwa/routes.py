from django.urls import include, path

from pwa import files, pages

app_name = "webapp"

urlpatterns = [
    path("", pages.home, name="home"),
    path("bandi/", pages.initiative_list, name="initiatives"),
    path("bandi/<int:initiative_id>/", pages.initiative_detail, name="initiative"),
    path("bandi/<int:initiative_id>/negozi/", pages.initiative_shops, name="initiative-shops"),
    path(
        "bandi/<int:initiative_id>/graduatoria/",
        pages.initiative_ranking,
        name="initiative-ranking",
    ),
    path(
        "bandi/<int:initiative_id>/documenti/<int:document_id>/",
        files.initiative_document,
        name="initiative-document",
    ),
    path("bandi/<int:initiative_id>/domanda/", pages.apply, name="apply"),
    path("negozi/accreditamento/", pages.accreditation_request, name="accreditation"),
    path("privacy/", pages.privacy, name="privacy"),
    path("accesso/", pages.login_page, name="login"),
    path("accesso/link/<str:token>/", pages.login_link, name="login-link"),
    path("esci/", pages.logout_page, name="logout"),
    path("buoni/", pages.my_vouchers, name="my-vouchers"),
    path("buoni/<int:voucher_id>/", pages.my_voucher, name="my-voucher"),
    path("domande/", pages.my_applications, name="my-applications"),
    path("domande/<int:application_id>/", pages.my_application, name="my-application"),
    path(
        "domande/<int:application_id>/documenti/<int:document_id>/",
        files.my_application_document,
        name="my-application-document",
    ),
    path("domande/<int:application_id>/rimborso/", pages.claim_new, name="claim-new"),
    path("rimborsi/", pages.my_claims, name="my-claims"),
    path(
        "rimborsi/<int:claim_id>/scontrini/<int:expense_id>/",
        files.my_expense_receipt,
        name="my-expense-receipt",
    ),
    path("cassa/", include("pwa.till_routes")),
]
