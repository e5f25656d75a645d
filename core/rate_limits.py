"""Counters of attempts kept in the cache (Redis in production, shared by every app server).

Each counter starts its window at its first attempt and is forgotten when the window ends.
A key that names a person (a fiscal code, an e-mail address) is stored as a keyed digest,
so that the cache never holds personal data. A cache outage lets every request through:
the limits protect the service, they must not stop it.
"""

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Counter:
    """``limit`` attempts per ``seconds`` on one ``key``."""

    key: str
    limit: int
    seconds: int


def counter_key(kind: str, *parts: object) -> str:
    """A cache key for ``kind`` made of ``parts`` without writing them out."""
    text = "\x1f".join(str(part) for part in parts)
    digest = hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"attempts:{kind}:{digest[:40]}"


def limit_reached(counters: Iterable[Counter]) -> bool:
    """Whether any of these counters is at its limit."""
    counters = list(counters)
    try:
        counts = cache.get_many([counter.key for counter in counters])
    except Exception:
        logger.warning("Attempt counters unavailable", exc_info=True)
        return False
    return any(int(counts.get(counter.key) or 0) >= counter.limit for counter in counters)


def attempt_count(counters: Iterable[Counter]) -> int:
    """Count one attempt on each counter; return the highest count reached."""
    highest = 0
    try:
        for counter in counters:
            if cache.add(counter.key, 1, timeout=counter.seconds):
                highest = max(highest, 1)
                continue
            try:
                highest = max(highest, cache.incr(counter.key))
            except ValueError:  # expired between add() and incr()
                cache.add(counter.key, 1, timeout=counter.seconds)
                highest = max(highest, 1)
    except Exception:
        logger.warning("Attempt counters unavailable", exc_info=True)
    return highest


def attempts_forget(keys: Iterable[str]) -> None:
    """Start these counters again from zero."""
    try:
        cache.delete_many(list(keys))
    except Exception:
        logger.warning("Attempt counters unavailable", exc_info=True)
