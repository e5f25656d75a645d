"""The API keys of a shop's tills."""

import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from merchants.models import DeviceKey, Merchant, hash_device_key


def device_key_create(
    *, merchant: Merchant, name: str, created_by: User | None = None, raw_key: str | None = None
) -> tuple[DeviceKey, str]:
    """Create a till's API key; return it with the raw key, which is never shown again.

    ``raw_key`` is only for the demo data, which derives its keys from the secret key.
    """
    raw_key = raw_key or "bc_" + secrets.token_urlsafe(32)
    device = DeviceKey.objects.create(
        merchant=merchant,
        name=name,
        prefix=raw_key[3:11],
        key_hash=hash_device_key(raw_key),
        created_by=created_by,
    )
    return device, raw_key


def device_key_revoke(*, device_key: DeviceKey, revoked_by: User | None = None) -> DeviceKey:
    """Revoke a device key, noting who did; revoking it again changes nothing."""
    if device_key.revoked_at is None:
        device_key.revoked_at = timezone.now()
        device_key.revoked_by = revoked_by
        device_key.save(update_fields=["revoked_at", "revoked_by"])
    return device_key
