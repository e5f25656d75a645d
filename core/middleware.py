"""Content Security Policy: strict for the app, looser where the admin needs it."""

from django.conf import settings
from django.middleware.csp import ContentSecurityPolicyMiddleware as DjangoCSPMiddleware

# unfold's admin runs Alpine.js (which evaluates expressions) and inline styles; the
# Swagger UI has an inline bootstrap script. Everything else gets the strict policy.
LOOSE_PATHS = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        if request.path.startswith(LOOSE_PATHS) and not hasattr(response, "_csp_config"):
            response._csp_config = settings.SECURE_CSP_ADMIN
        return super().process_response(request, response)
