from django.urls import path

from merchants import api

urlpatterns = [
    path("vouchers/check/", api.VoucherCheckApi.as_view(), name="api-voucher-check"),
    path("redemptions/", api.RedemptionListCreateApi.as_view(), name="api-redemptions"),
    path("redemptions/lookup/", api.RedemptionLookupApi.as_view(), name="api-redemption-lookup"),
    path(
        "redemptions/<int:redemption_id>/void/",
        api.RedemptionVoidApi.as_view(),
        name="api-redemption-void",
    ),
    path("scan/", api.ScanApi.as_view(), name="api-scan"),
]
