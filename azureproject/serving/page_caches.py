"""Page parts kept close: in this process's memory in front of the shared cache, and a cache
alias that reads another and stores nothing (restaurant_review.caching's page parts)."""

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache


class TwoTierCache(BaseCache):
    """Page parts in this process's memory first, then in a shared cache (OPTIONS "SHARED",
    an alias): a part another worker or instance rendered is fetched from Redis once, then
    served from memory. Only for keys whose value never changes, such as the versioned keys
    of restaurant_review.caching: memory then never holds an outdated value."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self.shared_alias = options.get("SHARED", "default")
        self.memory = LocMemCache(
            f"two-tier-{location}", {**params, "OPTIONS": {"MAX_ENTRIES": self._max_entries}}
        )

    @property
    def shared(self) -> BaseCache:
        from django.core.cache import caches

        return caches[self.shared_alias]

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        missing = object()
        value = self.memory.get(key, missing, version)
        if value is missing:
            value = self.shared.get(key, missing, version)
            if value is missing:
                return default
            self.memory.set(key, value, self.default_timeout, version)
        return value

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self.memory.set(key, value, timeout, version)
        self.shared.set(key, value, timeout, version)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        self.memory.add(key, value, timeout, version)
        return self.shared.add(key, value, timeout, version)

    def delete(self, key: Any, version: Any = None) -> Any:
        self.memory.delete(key, version)
        return self.shared.delete(key, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        self.memory.touch(key, timeout, version)
        return self.shared.touch(key, timeout, version)

    def clear(self) -> None:
        self.memory.clear()
        self.shared.clear()


class ReadOnlyCache(BaseCache):
    """Reads another alias (OPTIONS "READS"), writes nothing: for page parts drawn while the
    whole page is being cached, which would otherwise be stored twice (once alone, once in
    the page), doubling what each URL costs the cache."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.reads = params.get("OPTIONS", {}).get("READS", "template_fragments")

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        from django.core.cache import caches

        return caches[self.reads].get(key, default, version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        return None

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return False

    def delete(self, key: Any, version: Any = None) -> Any:
        return False

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return False

    def clear(self) -> None:
        return None
