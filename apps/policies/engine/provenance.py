"""Where a value came from: a per-episode index of the values content carried. Pure Python, no Django.

Values are those of values.py ("kind:normalised"); the index adds two kinds of key of its own:

    source:web                    the first step of each untrusted source
    user|<value>                  each value of the user's own messages, again, for `from: user`

A step is trusted content when it is a user (or system) message or an observation labelled
trusted; untrusted when labelled untrusted (by its source: web, email, file...). Agent messages,
actions and decisions are neither: an agent repeating a value does not vouch for it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from apps.policies.engine.values import found_in, words_in

TRUSTED, UNTRUSTED = "trusted", "untrusted"
SOURCE_PREFIX = "source:"
USER_PREFIX = "user|"  # "user|iban:..." : a value of the user's own messages (indexed besides "iban:...")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value first appeared in an episode, among trusted and among untrusted content."""

    trusted_step: int | None = None
    trusted_source: str = ""
    untrusted_step: int | None = None
    untrusted_source: str = ""

    @property
    def trusted(self) -> bool:
        return self.trusted_step is not None

    @property
    def tainted(self) -> bool:
        """Seen in untrusted content and never in trusted content."""
        return self.untrusted_step is not None and self.trusted_step is None

    def merged(self, other: Origin) -> Origin:
        t_step, t_src = _earliest(self.trusted_step, self.trusted_source, other.trusted_step, other.trusted_source)
        u_step, u_src = _earliest(self.untrusted_step, self.untrusted_source, other.untrusted_step,
                                  other.untrusted_source)
        return Origin(t_step, t_src, u_step, u_src)


UNSEEN = Origin()


def _earliest(a: int | None, a_src: str, b: int | None, b_src: str) -> tuple[int | None, str]:
    if a is None or (b is not None and b < a):
        return b, b_src
    return a, a_src


class ProvenanceView(Protocol):
    """What policy conditions ask about an episode; the index may live in memory or in a database."""

    def origins(self, values: Collection[str]) -> Mapping[str, Origin]:
        """The origin of each value that appeared in the episode (values never seen are absent)."""
        ...

    def untrusted_sources(self) -> Mapping[str, int]:
        """Each untrusted source read in the episode, with the step where it was first read."""
        ...


# -- steps ---------------------------------------------------------------------------------------


def step_trust(step: Mapping[str, Any]) -> tuple[str, str] | None:
    """(trusted or untrusted, source) of a step's content, or None for content that vouches nothing."""
    if step.get("provenance") == UNTRUSTED:
        return UNTRUSTED, str(step.get("source") or step.get("tool") or "unknown")
    kind, actor, role = step.get("kind"), step.get("actor"), step.get("role")
    if kind == "message" and (actor == "user" or role in ("user", "system")):
        return TRUSTED, "user" if actor == "user" or role == "user" else "system"
    if kind == "observation":
        return TRUSTED, str(step.get("source") or step.get("tool") or "tool")
    return None


def step_values(step: Mapping[str, Any]) -> tuple[str, str, set[str]] | None:
    """(trust, source, values) of one step, or None when its content counts for neither side."""
    trust = step_trust(step)
    if trust is None:
        return None
    values: set[str] = set()
    for part in (step.get("content"), step.get("result")):
        if part:
            values.update(f.value for f in found_in(part))
            if trust[0] == TRUSTED:
                values.update(f.value for f in words_in(part))
    if trust[0] == UNTRUSTED:
        values.add(SOURCE_PREFIX + trust[1])
    elif trust[1] == "user":  # the user's own words, for `from: user`
        values.update([USER_PREFIX + v for v in values])
    return trust[0], trust[1], values


def origins_of(steps: Iterable[Mapping[str, Any]]) -> dict[str, Origin]:
    """Each value of these steps with its first trusted and first untrusted step (for one batch)."""
    out: dict[str, Origin] = {}
    for step in steps:
        entry = step_values(step)
        if entry is None:
            continue
        trust, source, values = entry
        index = int(step["index"])
        new = Origin(index, source) if trust == TRUSTED else Origin(None, "", index, source)
        for value in values:
            seen = out.get(value)
            out[value] = new if seen is None else seen.merged(new)
    return out


class ProvenanceIndex:
    """An episode's index in memory: for policy test cases, offline replays and benchmarks."""

    def __init__(self, steps: Iterable[Mapping[str, Any]] = ()):
        self._origins: dict[str, Origin] = {}
        self._sources: dict[str, int] = {}
        self.add_steps(steps)

    def add_steps(self, steps: Iterable[Mapping[str, Any]]) -> None:
        for value, origin in origins_of(steps).items():
            seen = self._origins.get(value)
            merged = self._origins[value] = origin if seen is None else seen.merged(origin)
            if value.startswith(SOURCE_PREFIX) and merged.untrusted_step is not None:
                self._sources[value[len(SOURCE_PREFIX):]] = merged.untrusted_step

    def origins(self, values: Collection[str]) -> Mapping[str, Origin]:
        get = self._origins.get
        if len(values) == 1:  # most arguments carry one value
            for v in values:
                o = get(v)
                return {} if o is None else {v: o}
        return {v: o for v in values if (o := get(v)) is not None}

    def untrusted_sources(self) -> Mapping[str, int]:
        return self._sources

    def __len__(self) -> int:
        return len(self._origins)
