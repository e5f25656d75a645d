from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import health, health_deep
from core.otp import admin as otp_admin
from core.otp import views as otp_views
from pwa import transparency
from reports.admin.rendicontazione import report_page

otp_admin.register_admin(admin.site)

urlpatterns = [
    path("admin/accesso/verifica/", otp_views.verify_view, name="otp-verify"),
    path("admin/accesso/attivazione/", otp_views.enrol_view, name="otp-enrol"),
    path("admin/accesso/sicurezza/", otp_views.security_view, name="otp-security"),
    path(
        "admin/accesso/codici-di-emergenza/", otp_views.backup_codes_view, name="otp-backup-codes"
    ),
    path("admin/rendicontazione/", report_page, name="admin-reports"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("merchants.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("vouchers/", include("vouchers.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", health, name="health"),
    path("health/deep/", health_deep, name="health-deep"),
    path(
        "trasparenza/<int:initiative_id>/",
        transparency.transparency_page,
        name="transparency",
    ),
    path("", include("pwa.urls")),
    path("", include("pwa.routes")),
]

# A URL under /api/ that matches nothing (say, a void of redemption "abc") answers in JSON.
handler404 = "core.api.not_found"
