"""A Redis cache that a Redis outage turns into no cache, instead of an error on every page.

Pages read figures from the cache and compute them on a miss: with Redis down, each read
is a miss, each write is dropped, and the page computes what it shows. After a failure the
process leaves Redis alone for ``RETRY_SECONDS`` (a Redis that does not answer would
otherwise cost each request the socket timeout on each call). Counters (``incr``,
``decr``) still raise: their callers decide what an unknown count means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
UNAVAILABLE = (RedisError, OSError)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, degrading to misses and dropped writes while Redis is down."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0

    def _attempt[T](self, operation: str, call: Callable[[], T], fallback: T) -> T:
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except UNAVAILABLE as error:
            self._down_until = time.monotonic() + RETRY_SECONDS
            logger.warning("Cache unavailable (%s): %s; carrying on without it", operation, error)
            return fallback

    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        return self._attempt("get", lambda: RedisCache.get(self, key, default, version), default)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._attempt("get_many", lambda: RedisCache.get_many(self, keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._attempt("has_key", lambda: RedisCache.has_key(self, key, version), False)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._attempt("set", lambda: RedisCache.set(self, key, value, timeout, version), None)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._attempt(
            "set_many", lambda: RedisCache.set_many(self, data, timeout, version), list(data)
        )

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._attempt(
            "add", lambda: RedisCache.add(self, key, value, timeout, version), False
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._attempt("touch", lambda: RedisCache.touch(self, key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._attempt("delete", lambda: RedisCache.delete(self, key, version), False)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._attempt("delete_many", lambda: RedisCache.delete_many(self, keys, version), None)

    def clear(self) -> None:
        self._attempt("clear", lambda: RedisCache.clear(self), None)
