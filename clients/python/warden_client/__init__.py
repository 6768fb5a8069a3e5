"""Warden client for agent runtimes (standard library only).

    from warden_client import Warden
    warden = Warden("http://127.0.0.1:8000", api_key="wdn_...")
    d = warden.decide(episode="run-42", agent="banker", tool="send_money", arguments={"amount": 50})
    send = warden.guard(send_money, episode="run-42", agent="banker")   # decided, recorded
    send(recipient="UK1", amount=50)

Writes carry an Idempotency-Key per call and are retried safely; `on_unreachable="block"` (the
default) or `"allow"` says what happens when Warden cannot be reached. See README.md.
"""

from warden_client.client import AskUnanswered, Blocked, Decision, Terminated, Warden
from warden_client.transport import WardenError, WardenUnreachable

__version__ = "0.2.0"
__all__ = ["AskUnanswered", "Blocked", "Decision", "Terminated", "Warden", "WardenError", "WardenUnreachable"]
