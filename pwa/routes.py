from django.urls import include, path

from pwa import account, accreditation, applications, claims, files, public, wallet

app_name = "webapp"

urlpatterns = [
    path("", public.home, name="home"),
    path("bandi/", public.initiative_list, name="initiatives"),
    path("bandi/<int:initiative_id>/", public.initiative_detail, name="initiative"),
    path("bandi/<int:initiative_id>/negozi/", public.initiative_shops, name="initiative-shops"),
    path(
        "bandi/<int:initiative_id>/graduatoria/",
        public.initiative_ranking,
        name="initiative-ranking",
    ),
    path(
        "bandi/<int:initiative_id>/documenti/<int:document_id>/",
        files.initiative_document,
        name="initiative-document",
    ),
    path("bandi/<int:initiative_id>/domanda/", applications.apply, name="apply"),
    path("negozi/accreditamento/", accreditation.accreditation_request, name="accreditation"),
    path("privacy/", public.privacy, name="privacy"),
    path("accesso/", account.login_page, name="login"),
    path("accesso/link/<str:token>/", account.login_link, name="login-link"),
    path("esci/", account.logout_page, name="logout"),
    path("buoni/", wallet.my_vouchers, name="my-vouchers"),
    path("buoni/<int:voucher_id>/", wallet.my_voucher, name="my-voucher"),
    path("domande/", applications.my_applications, name="my-applications"),
    path("domande/<int:application_id>/", applications.my_application, name="my-application"),
    path(
        "domande/<int:application_id>/documenti/<int:document_id>/",
        files.my_application_document,
        name="my-application-document",
    ),
    path("domande/<int:application_id>/rimborso/", claims.claim_new, name="claim-new"),
    path("rimborsi/", claims.my_claims, name="my-claims"),
    path(
        "rimborsi/<int:claim_id>/scontrini/<int:expense_id>/",
        files.my_expense_receipt,
        name="my-expense-receipt",
    ),
    path("cassa/", include("pwa.till_routes")),
]
