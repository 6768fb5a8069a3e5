"""Which provenance values /decide reads with its context: those a decision of this call will ask for.

A policy whose rules for the tool have provenance conditions asks the episode's index for the
values of the call's arguments; reading them in the context statement saves /decide a round trip.
Which policy is in force is known only after that statement, so each process remembers, per
project and agent, the policy digest its last decision applied, and asks that policy (compiled
engines are cached by digest). A wrong guess costs time, never a wrong verdict: values not
fetched are read when a condition asks (selectors.EpisodeProvenance), and values fetched in vain
are ignored.
"""

from apps.policies.engine.provenance import USER_PREFIX
from apps.policies.engine.values import argument_found, found_in
from apps.policies.engine_cache import cached
from apps.policies.records import DecideInput

_MAX_REMEMBERED = 10_000
_POLICY_OF: dict[tuple[int, str], str] = {}  # (project id, agent) -> digest of the policy last applied
_PROJECT_OF_KEY: dict[str, int] = {}  # API key prefix -> project id, for the lean path


def provenance_values(*, project_id: int | None, data: DecideInput) -> list[str] | None:
    """The index values to read with the context of this call, or None to read none."""
    digest = _POLICY_OF.get((project_id, data.agent)) if project_id is not None else None
    policy = cached(digest=digest) if digest else None
    if policy is None or not policy.reads_provenance(data.tool, data.kind):
        return None
    values = {f.value for f in found_in(data.arguments)}
    for argument in data.arguments.values():  # `from:` checks a name without identifiers by its words
        values.update(f.value for f in argument_found(argument))
    values.update([USER_PREFIX + v for v in values])  # `from: user` asks for both
    return sorted(values)


def remember(*, project_id: int, agent: str, digest: str) -> None:
    """Call after a decision: the policy it applied is the likeliest for the agent's next call."""
    key = (project_id, agent)
    if _POLICY_OF.get(key) != digest:
        if len(_POLICY_OF) >= _MAX_REMEMBERED:
            _POLICY_OF.clear()
        _POLICY_OF[key] = digest


def project_of_key(prefix: str) -> int | None:
    return _PROJECT_OF_KEY.get(prefix)


def remember_key(*, prefix: str, project_id: int) -> None:
    if _PROJECT_OF_KEY.get(prefix) != project_id:
        if len(_PROJECT_OF_KEY) >= _MAX_REMEMBERED:
            _PROJECT_OF_KEY.clear()
        _PROJECT_OF_KEY[prefix] = project_id
