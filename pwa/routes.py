from django.urls import include, path

from pwa import pages

app_name = "webapp"

urlpatterns = [
    path("", pages.home, name="home"),
    path("cassa/", include("pwa.till_routes")),
]
