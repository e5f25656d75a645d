"""Content Security Policy: strict for the app, looser where the admin needs it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import ContentSecurityPolicyMiddleware as DjangoCSPMiddleware

# unfold's admin runs Alpine.js (which evaluates expressions) and inline styles; the
# Swagger UI has an inline bootstrap script. Everything else gets the strict policy.
LOOSE_PATHS = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware(DjangoCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path.startswith(LOOSE_PATHS) and not hasattr(response, "_csp_config"):
            # Django's CSP middleware reads a response's own policy from this attribute.
            response._csp_config = settings.SECURE_CSP_ADMIN  # type: ignore[attr-defined]
        return super().process_response(request, response)
