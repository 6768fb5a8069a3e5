"""Why a constraint or condition failed, as text for the agent and as evidence for the reviewer.

A provenance finding names the value, its kind, and the step where it first appeared:
"this IBAN (UK12...) first appeared in step 3, from web (untrusted), never in trusted content".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from apps.policies.engine import provenance
from apps.policies.engine.provenance import Origin
from apps.policies.engine.values import Found

NOUNS = {"url": "URL", "domain": "domain", "email": "e-mail address", "iban": "IBAN", "token": "identifier",
         "number": "number", "text": "sentence", "word": "word"}


class Finding(NamedTuple):
    """A value of a call and what the episode's index knows about it. (A named tuple, as `Found`:
    a refusal makes one per decision, and a frozen dataclass costs several times more to build.)"""

    condition: str  # from | tainted | untrusted
    value: str  # as written in the call (or the source's name, for `untrusted`)
    kind: str
    step: int | None = None
    source: str = ""
    provenance: str = "unseen"  # untrusted | unseen
    argument: str = ""

    @classmethod
    def of(cls, found: Found, origin: Origin, condition: str,
           argument: str = "") -> Finding:
        kind = found.value[:found.value.index(":")]
        if origin.untrusted_step is not None:
            return cls(condition, found.raw, kind, origin.untrusted_step, origin.untrusted_source,
                       provenance.UNTRUSTED, argument)
        return cls(condition, found.raw, kind, None, "", "unseen", argument)

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "argument": self.argument or None, "value": self.value,
                "kind": self.kind, "noun": NOUNS.get(self.kind, self.kind), "step": self.step, "source": self.source or None,
                "provenance": self.provenance}


class Problem(NamedTuple):
    """A failed constraint: `detail` says what failed; `finding` is provenance evidence, if any."""

    detail: str
    finding: Finding | None = None


def describe(finding: Finding, noun: str | None = None) -> str:
    what = noun or NOUNS.get(finding.kind, finding.kind)
    shown = finding.value if len(finding.value) <= 60 else finding.value[:57] + "..."
    where = f"argument {finding.argument}: " if finding.argument else ""
    if finding.condition == "untrusted":
        return f"untrusted content from {finding.value} was read (first in step {finding.step})"
    if finding.step is not None:
        return (f"{where}this {what} ({shown}) first appeared in step {finding.step}, from {finding.source} "
                "(untrusted), never in trusted content")
    return f"{where}this {what} ({shown}) appears in no trusted content of this episode"


def first_untrusted(found: Sequence[Found], view: provenance.ProvenanceView,
                    sources: Collection[str] | None, argument: str) -> Finding | None:
    """The first value only untrusted content (from one of `sources`, if given) carried."""
    if not found:
        return None
    origins = view.origins([f.value for f in found])
    if not origins:
        return None
    for item in found:
        origin = origins.get(item.value)
        if origin is not None and origin.tainted and (sources is None or origin.untrusted_source in sources):
            return Finding.of(item, origin, "tainted", argument)
    return None
