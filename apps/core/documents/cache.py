"""Compiled documents kept per process, keyed by content digest.

A published version never changes, so neither does its compiled form: the digest alone is the
key and entries never go stale. The least recently used entry goes when the cache is full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CompileCache(Generic[T]):
    def __init__(self, compile: Callable[[str], T], *, size: int = 512):
        self._compile = compile
        self._size = size
        self._entries: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, digest: str) -> T | None:
        """The compiled version if this process has it, without needing its source."""
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                self._entries.move_to_end(digest)
            return found

    def get(self, *, digest: str, source: str) -> T:
        """The compiled version, compiling `source` (whose digest is `digest`) on a miss.

        Compiling happens outside the lock: two threads missing at once both compile, and both
        results are equal.
        """
        found = self.peek(digest)
        if found is None:
            found = self._compile(source)
            with self._lock:
                self._entries[digest] = found
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
