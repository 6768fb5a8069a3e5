"""Warden client for agent runtimes (standard library only).

    from warden_client import Warden
    warden = Warden("http://127.0.0.1:8000", api_key="wdn_...")
    d = warden.decide(episode="run-42", agent="banker", tool="send_money", arguments={"amount": 50})
    send = warden.guard(send_money, episode="run-42", agent="banker")   # decided, recorded
    send(recipient="UK1", amount=50)
"""

from warden_client.client import Blocked, Decision, Terminated, Warden, WardenError

__version__ = "0.1.0"
__all__ = ["Blocked", "Decision", "Terminated", "Warden", "WardenError"]
