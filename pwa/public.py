"""The public pages: the calls, their shops and rankings, the privacy notice."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from merchants.selectors import circuit_merchants
from vouchers.selectors.holders import (
    initiative_public_ranking,
    open_initiatives,
    public_initiatives,
    ranking_initiatives,
)


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and getattr(request.user, "beneficiary", None):
        return redirect("webapp:my-vouchers")
    return render(request, "pwa/home.html", {"initiatives": open_initiatives()})


def initiative_list(request: HttpRequest) -> HttpResponse:
    calls = (
        public_initiatives()
        .prefetch_related("municipalities")
        .order_by("-applications_open_at", "title")
    )
    return render(request, "pwa/initiatives.html", {"initiatives": calls})


def initiative_detail(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(
        public_initiatives().prefetch_related("documents", "municipalities", "allowed_categories"),
        pk=initiative_id,
    )
    return render(
        request,
        "pwa/initiative.html",
        {"initiative": initiative, "is_open": initiative.accepts_applications()},
    )


def initiative_shops(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(public_initiatives(), pk=initiative_id)
    shops = circuit_merchants(initiative_id=initiative.pk).prefetch_related(
        "categories", "municipalities"
    )
    category = request.GET.get("categoria", "")
    town = request.GET.get("comune", "")
    if category.isdigit():
        shops = shops.filter(categories=int(category))
    if town.isdigit():
        shops = shops.filter(municipalities=int(town))
    return render(
        request,
        "pwa/shops.html",
        {
            "initiative": initiative,
            "shops": shops,
            "categories": initiative.allowed_categories.order_by("name"),
            "towns": initiative.municipalities.order_by("name"),
            "selected_category": category,
            "selected_town": town,
        },
    )


def initiative_ranking(request: HttpRequest, initiative_id: int) -> HttpResponse:
    """The public ranking: protocol numbers, positions and outcomes only, no names."""
    initiative = get_object_or_404(ranking_initiatives(), pk=initiative_id)
    return render(
        request,
        "pwa/ranking.html",
        {
            "initiative": initiative,
            "ranking": initiative_public_ranking(initiative=initiative),
        },
    )


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "pwa/privacy.html")
