"""Work left for after the response: handed to the background thread inside a request, immediate elsewhere."""

import logging
import threading

from django.core.signals import request_finished, request_started

from apps.core import background
from apps.core.after_response import after_response


def test_outside_a_request_the_work_runs_at_once():
    done = []
    after_response(lambda: done.append(1))
    assert done == [1]


def test_inside_a_request_the_work_waits_for_the_response_and_a_failure_does_not_stop_the_rest(caplog, settings):
    settings.WARDEN_AFTER_RESPONSE = True
    done = []
    request_started.send(sender=None)
    after_response(lambda: 1 / 0)
    after_response(lambda: done.append(("published", threading.current_thread().name)))
    assert done == []
    with caplog.at_level(logging.ERROR, logger="apps.core.background"):
        request_finished.send(sender=None)
        assert background.wait_idle()
    assert done == [("published", "warden-background")]  # off the request's thread
    assert "background work failed" in caplog.text
    done.clear()
    after_response(lambda: done.append("later"))  # the request is over: immediate again
    assert done == ["later"]


def test_turned_off_the_work_runs_inside_the_request(settings):
    settings.WARDEN_AFTER_RESPONSE = False
    done = []
    request_started.send(sender=None)
    after_response(lambda: done.append(1))
    assert done == [1]
    request_finished.send(sender=None)


def test_a_failing_connection_check_neither_skips_the_work_nor_ends_the_background_thread(monkeypatch, caplog):
    def broken() -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(background, "close_old_connections", broken)
    done = []
    with caplog.at_level(logging.ERROR, logger="apps.core.background"):
        background.call_soon(lambda: done.append(1))
        assert background.wait_idle()
        monkeypatch.undo()
        background.call_soon(lambda: done.append(2))  # the thread is still there to run it
        assert background.wait_idle()
    assert done == [1, 2]
    assert "could not check the background thread's database connection" in caplog.text
