"""Compiled engines cached per process, keyed by content digest (versions never change)."""

from apps.policies import engine

_CACHE: dict[tuple[str, bool], engine.CompiledPolicy] = {}
MAX_CACHED = 512


def cached(*, digest: str, narrowing: bool = False) -> engine.CompiledPolicy | None:
    return _CACHE.get((digest, narrowing))


def compiled(*, digest: str, source: str, narrowing: bool = False) -> engine.CompiledPolicy:
    key = (digest, narrowing)
    found = _CACHE.get(key)
    if found is None:
        found = engine.compile_policy(source, narrowing=narrowing)
        if len(_CACHE) >= MAX_CACHED:
            _CACHE.clear()
        _CACHE[key] = found
    return found
