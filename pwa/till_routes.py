from django.urls import path

from pwa import till

# Included by pwa.routes under "cassa/", in the "webapp" namespace.
urlpatterns = [
    path("", till.till, name="till"),
    path("accesso/", till.till_login, name="till-login"),
    path("esci/", till.till_logout, name="till-logout"),
    # Kept by the service worker, shown when the till is opened without network.
    path("senza-rete/", till.till_offline, name="till-offline"),
    # Only the project's own catalogue (LOCALE_PATHS), cut to the till's texts.
    path(
        "jsi18n/",
        till.TillCatalog.as_view(packages=["pwa"]),
        name="javascript-catalog",
    ),
]
