"""Sensitive arguments: the values a policy's `sensitive:` names, masked before anything is stored.

    masker = masker_for(project_id=7, names=policy.sensitive_args("login"))
    masker.arguments({"user": "ann", "password": "hunter2"})   # {"user": "ann", "password": "••••3f9a0c21"}

A mask is "••••" and the first 8 hex digits of an HMAC-SHA256 of the value, keyed by the project
(derived from SECRET_KEY): equal values in one project get equal masks, so a reviewer can see that
two calls carried the same secret, and nobody holding an export can test guesses against a mask.
Masking happens when a decision or a tool call's step is written, so every page, export, API
answer, search index and log entry downstream holds only the mask. The one clear copy is an ask's,
held on its Approval while it waits for a reviewer (see docs/policies.md, *Sensitive arguments*).
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings

from apps.policies import engine
from apps.policies.engine_cache import compiled
from apps.policies.models import Policy

MASK = "••••"
DIGITS = 8


@lru_cache(maxsize=1024)
def _project_key(project_id: int, secret: str) -> bytes:
    return hmac.new(secret.encode(), f"warden.sensitive:{project_id}".encode(), hashlib.sha256).digest()


def mask_of(value: Any, *, project_id: int) -> str:
    """The mask of one value (any JSON value) in a project."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hmac.new(_project_key(project_id, settings.SECRET_KEY), canonical.encode(), hashlib.sha256)
    return MASK + digest.hexdigest()[:DIGITS]


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and len(value) == len(MASK) + DIGITS and value.startswith(MASK)


@dataclass(frozen=True, slots=True)
class Masker:
    """Masks the named arguments of one call (top-level names; a value is masked whole)."""

    names: frozenset[str]
    project_id: int

    def __bool__(self) -> bool:
        return bool(self.names)

    def arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        if not self.names or not (self.names & arguments.keys()):
            return dict(arguments)
        return {k: self.value(v) if k in self.names and not is_mask(v) else v for k, v in arguments.items()}

    def value(self, value: Any) -> str:
        return mask_of(value, project_id=self.project_id)

    def digests(self, arguments: Mapping[str, Any]) -> dict[str, str]:
        """{name: mask} of the sensitive arguments present: what the governance log keeps."""
        return {k: self.value(arguments[k]) for k in sorted(self.names & arguments.keys())}

    def text(self, text: str | None, *calls: Mapping[str, Any]) -> str | None:
        """`text` with every clear sensitive value of `calls` replaced by its mask (a message or a
        failed constraint's detail may quote the value it refused)."""
        if not text or not self.names:
            return text
        for value in _clear_values(self.names, calls):
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            if len(shown) >= 2:  # a single character would mask every occurrence of that letter
                text = text.replace(shown, self.value(value))
        return text

    def finding(self, finding: dict[str, Any] | None) -> dict[str, Any] | None:
        """A provenance finding (its `value` is the call's) with a sensitive argument's value masked."""
        if finding is None or finding.get("argument") not in self.names:
            return finding
        return {**finding, "value": self.value(finding["value"])}


def _clear_values(names: frozenset[str], calls: Iterable[Mapping[str, Any]]) -> list[Any]:
    values = [call[n] for call in calls for n in names if n in call and not is_mask(call[n])]
    # Longest first, so a value that contains another is replaced whole.
    return sorted(values, key=lambda v: -len(v) if isinstance(v, str) else 0)


NO_MASK = Masker(frozenset(), 0)


def masker_for(*, project_id: int, names: frozenset[str]) -> Masker:
    return Masker(names, project_id) if names else NO_MASK


def arguments_unmasked(stored: Mapping[str, Any], clear: Mapping[str, Any], *, project_id: int) -> dict[str, Any]:
    """`stored` (masked) arguments with each mask of a value in `clear` (the caller's own call)
    given back: what a runtime retrying its call gets, since it sent those values itself."""
    out = dict(stored)
    for name, value in stored.items():
        if is_mask(value) and name in clear and mask_of(clear[name], project_id=project_id) == value:
            out[name] = clear[name]
    return out


def project_sensitive(*, project_id: int) -> list[engine.CompiledPolicy]:
    """The project's active policies that mark arguments sensitive (one query; usually none)."""
    rows = (Policy.objects.filter(project_id=project_id, in_force__source__contains="sensitive")
            .values_list("in_force__digest", "in_force__source"))
    found = [compiled(digest=digest, source=source) for digest, source in rows]
    return [policy for policy in found if policy.sensitive]


def steps_mask(project_id: int, steps: list[dict]) -> list[dict]:
    """Masks, in steps about to be stored, the arguments of tool calls that any active policy of
    the project marks sensitive (traces.signals.steps_mask_register): a runtime records the call it
    ran with the values it ran it with. Decision steps arrive masked already."""
    actions = [s for s in steps if s.get("kind") == "action" and s.get("arguments") and s.get("tool")]
    if not actions:
        return []
    policies = project_sensitive(project_id=project_id)
    changed = []
    for step in actions if policies else ():
        names = frozenset().union(*(p.sensitive_args(step["tool"]) for p in policies))
        if names & step["arguments"].keys():
            step["arguments"] = Masker(names, project_id).arguments(step["arguments"])
            changed.append(step)
    return changed
