"""API authentication for tills: ``Authorization: Token <device key>``."""

import functools

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from merchants.models import DeviceKey, Merchant, hash_device_key

# Every till request starts here. The ORM would build the same join afresh each time (about
# a third of a redemption's CPU on PostgreSQL); this fixed statement reads only what a
# request uses, and the rest of the shop's fields load on first use.
_DEVICE_FIELDS = ("id", "name", "prefix", "last_used_at", "merchant_id")
_MERCHANT_FIELDS = ("id", "name", "status")


@functools.cache
def _device_sql() -> str:
    quote = connection.ops.quote_name
    columns = [f"d.{quote(name)}" for name in _DEVICE_FIELDS]
    columns += [f"m.{quote(name)}" for name in _MERCHANT_FIELDS]
    return (
        f"SELECT {', '.join(columns)} FROM {quote(DeviceKey._meta.db_table)} d"
        f" JOIN {quote(Merchant._meta.db_table)} m ON m.id = d.merchant_id"
        " WHERE d.key_hash = %s AND d.revoked_at IS NULL"
    )


def device_for_key_hash(key_hash: str) -> DeviceKey | None:
    """The device key with this hash, not revoked, with its shop; None if there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_device_sql(), [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_DEVICE_FIELDS)
    device = DeviceKey.from_db(
        connection.alias, [*_DEVICE_FIELDS, "revoked_at"], [*row[:split], None]
    )
    device.merchant = Merchant.from_db(connection.alias, _MERCHANT_FIELDS, row[split:])
    return device


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
        device = device_for_key_hash(hash_device_key(raw_key))
        if device is None:
            raise exceptions.AuthenticationFailed(
                _("Chiave del dispositivo non valida o revocata.")
            )
        now = timezone.now()
        if device.last_used_at is None or (now - device.last_used_at).total_seconds() > 300:
            DeviceKey.objects.filter(pk=device.pk).update(last_used_at=now)
        return DevicePrincipal(device), device

    def authenticate_header(self, request):
        return self.keyword
