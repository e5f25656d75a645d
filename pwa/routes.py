from django.urls import path

from pwa import pages

app_name = "webapp"

urlpatterns = [
    path("", pages.home, name="home"),
]
