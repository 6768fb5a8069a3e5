"""Work a web request can leave until its response has been sent.

Publishing a task to the broker costs a couple of milliseconds of CPU; a runtime waiting on
/decide should not wait for it. Inside a request, `after_response(fn)` holds `fn` until
request_finished, which the server sends once the body is written, and then hands it to the
process's background thread (apps/core/background.py), so neither this client nor the next
request waits for it. Anywhere else (workers, commands, tests outside a request, or
WARDEN_AFTER_RESPONSE off) it runs `fn` at once. A failing callable is logged.
"""

import threading
from collections.abc import Callable

from django.conf import settings

from apps.core import background

_local = threading.local()


def after_response(fn: Callable[[], None]) -> None:
    queue = getattr(_local, "queue", None)
    if queue is None:
        fn()
    else:
        queue.append(fn)


def on_request_started(sender, **kwargs) -> None:
    _local.queue = [] if settings.WARDEN_AFTER_RESPONSE else None


def on_request_finished(sender, **kwargs) -> None:
    queue, _local.queue = getattr(_local, "queue", None), None
    for fn in queue or ():
        background.call_soon(fn)
