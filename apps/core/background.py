"""One background thread per process for work that no caller waits for.

A sync web worker serves one request at a time: work it did after sending a response (publishing
a task, chaining the governance log) still held up the next request. `call_soon(fn)` and
`call_later(delay, fn)` hand such work to a daemon thread instead, which runs it in order while
the worker goes on serving; the thread's database waits release the GIL. The thread starts on
first use in each process (so after a fork too), logs a failing callable and goes on. It keeps
its own database connection while work keeps coming and closes it after `IDLE_SECONDS` with
nothing due. At exit it finishes what is already due, for at most `EXIT_GRACE_SECONDS`.
"""

import atexit
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

EXIT_GRACE_SECONDS = 2.0
IDLE_SECONDS = 1.0

_cv = threading.Condition()
_heap: list[tuple[float, int, Callable[[], None]]] = []
_order = itertools.count()
_owner_pid: int | None = None
_running = 0  # callables taken off the heap and not finished yet


def call_soon(fn: Callable[[], None]) -> None:
    call_later(0.0, fn)


def call_later(delay: float, fn: Callable[[], None]) -> None:
    with _cv:
        _start_locked()
        heapq.heappush(_heap, (time.monotonic() + max(delay, 0.0), next(_order), fn))
        _cv.notify()


def wait_idle(timeout: float = 5.0) -> bool:
    """Waits until nothing is due or running (later work may stay queued); True when idle."""
    deadline = time.monotonic() + timeout
    with _cv:
        while _running or (_heap and _heap[0][0] <= time.monotonic()):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _cv.wait(min(left, 0.05))
    return True


def release_connections() -> None:
    """Closes the thread's database connection now (tests, before their database goes away)."""
    with _cv:
        started = _owner_pid == os.getpid()
    if started:
        call_soon(connections.close_all)
        wait_idle()


def _start_locked() -> None:
    global _owner_pid, _running
    if _owner_pid == os.getpid():
        return
    if _owner_pid is not None:  # forked: the parent's thread and its queue stayed behind
        _heap.clear()
        _running = 0
    else:
        atexit.register(_finish_due)
    _owner_pid = os.getpid()
    threading.Thread(target=_loop, name="warden-background", daemon=True).start()


def _loop() -> None:
    global _running
    while True:
        fn = _take(IDLE_SECONDS)
        if fn is None:  # nothing due for a while: give the connection back
            _run(connections.close_all)
            fn = _take(None)
        assert fn is not None  # without a timeout _take waits for the next callable
        _run(fn)
        with _cv:
            _running -= 1
            _cv.notify_all()


def _take(timeout: float | None) -> Callable[[], None] | None:
    """The next callable once it is due, or None when none falls due within `timeout` seconds."""
    global _running
    deadline = None if timeout is None else time.monotonic() + timeout
    with _cv:
        while not _heap or _heap[0][0] > time.monotonic():
            now = time.monotonic()
            wait = _heap[0][0] - now if _heap else None
            if deadline is not None:
                if now >= deadline:
                    return None
                wait = deadline - now if wait is None else min(wait, deadline - now)
            _cv.wait(wait)
        _running += 1
        return heapq.heappop(_heap)[2]


def _run(fn: Callable[[], None]) -> None:
    """Runs `fn`; nothing it or the connection check raises may end the thread, or the process
    would silently stop publishing and flushing."""
    try:
        close_old_connections()  # a connection that broke or aged out is replaced, as between requests
    except Exception:
        logger.exception("could not check the background thread's database connection")
    try:
        fn()
    except Exception:  # nobody waits for this work: log it and keep the thread alive
        logger.exception("background work failed")


def _finish_due() -> None:
    if _owner_pid == os.getpid():
        wait_idle(EXIT_GRACE_SECONDS)
