"""Compiled policy engines cached per process, keyed by content digest (versions never change)."""

from functools import partial

from apps.core.documents import CompileCache
from apps.policies import engine

_POLICIES = CompileCache(engine.compile_policy)
_NARROWINGS = CompileCache(partial(engine.compile_policy, narrowing=True))


def cached(*, digest: str, narrowing: bool = False) -> engine.CompiledPolicy | None:
    return (_NARROWINGS if narrowing else _POLICIES).peek(digest)


def compiled(*, digest: str, source: str, narrowing: bool = False) -> engine.CompiledPolicy:
    return (_NARROWINGS if narrowing else _POLICIES).get(digest=digest, source=source)
