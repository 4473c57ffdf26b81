"""A small per-process cache with expiry, for lookups on the ingest hot path."""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")
MAX_ENTRIES = 10_000


class TTLCache(Generic[V]):
    def __init__(self, ttl: Callable[[], float]):
        self._ttl = ttl  # read on each store, so settings overrides apply
        self._entries: dict[object, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key, load: Callable[[], V]) -> V:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        ttl = self._ttl()
        if ttl > 0:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (now + ttl, value)
        return value

    def evict(self, key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
