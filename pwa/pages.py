"""Pages of the installable app; they call selectors and services, nothing more."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vouchers.models import Initiative


def home(request: HttpRequest) -> HttpResponse:
    initiatives = Initiative.objects.filter(status=Initiative.Status.PUBLISHED).order_by("title")
    return render(request, "pwa/home.html", {"initiatives": initiatives})
