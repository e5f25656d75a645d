from django.urls import re_path

from vouchers import views

app_name = "vouchers"

urlpatterns = [
    re_path(
        r"^(?P<voucher_id>\d+)/qr\.(?P<image_format>svg|png)$",
        views.voucher_qr,
        name="voucher-qr",
    ),
]
