"""API authentication for tills: ``Authorization: Token <device key>``."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from merchants.models import DeviceKey, hash_device_key


class DevicePrincipal:
    """The request's user when a till authenticates with its device key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, device: DeviceKey):
        self.device = device
        self.merchant = device.merchant

    def __str__(self) -> str:
        return f"device:{self.device.prefix}"


class DeviceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Chiave del dispositivo mancante o malformata.")
            )
        try:
            raw_key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Chiave del dispositivo non valida.")) from exc
        try:
            # get(), not first(): key_hash is unique, an ORDER BY would be built for nothing.
            device = DeviceKey.objects.select_related("merchant").get(
                key_hash=hash_device_key(raw_key), revoked_at=None
            )
        except DeviceKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                _("Chiave del dispositivo non valida o revocata.")
            ) from None
        now = timezone.now()
        if device.last_used_at is None or (now - device.last_used_at).total_seconds() > 300:
            DeviceKey.objects.filter(pk=device.pk).update(last_used_at=now)
        return DevicePrincipal(device), device

    def authenticate_header(self, request):
        return self.keyword
