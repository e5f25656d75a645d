"""API authentication for tills: ``Authorization: Token <device key>``."""

import functools
from datetime import UTC

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
    last_used_at = row[_DEVICE_FIELDS.index("last_used_at")]
    if last_used_at is not None and timezone.is_naive(last_used_at):
        # SQLite gives back UTC without its zone (the ORM's converters add it).
        row = list(row)
        row[_DEVICE_FIELDS.index("last_used_at")] = timezone.make_aware(last_used_at, UTC)
    device = _instance(
        DeviceKey, {**dict(zip(_DEVICE_FIELDS, row[:split], strict=True)), "revoked_at": None}
    )
    device.merchant = _instance(Merchant, dict(zip(_MERCHANT_FIELDS, row[split:], strict=True)))
    return device


def _instance(model, values: dict):
    """A model instance with these fields loaded and the others deferred."""
    # from_db takes the values in the model's field order, not in the order of the names.
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def device_authenticate(raw_key: str) -> DeviceKey | None:
    """The till's valid device key for this raw key, noting when it was last used."""
    device = device_for_key_hash(hash_device_key(raw_key))
    if device is None:
        return None
    now = timezone.now()
    if device.last_used_at is None or (now - device.last_used_at).total_seconds() > 300:
        DeviceKey.objects.filter(pk=device.pk).update(last_used_at=now)
        device.last_used_at = now
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
        device = device_authenticate(raw_key)
        if device is None:
            raise exceptions.AuthenticationFailed(
                _("Chiave del dispositivo non valida o revocata.")
            )
        return DevicePrincipal(device), device

    def authenticate_header(self, request):
        return self.keyword
