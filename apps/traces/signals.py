"""Trace events for other apps.

    steps_appended.send(sender=Episode, episode=episode, first_index=int, count=int, work=bool | None)
    episode_ended.send(sender=Episode, episode=episode)

These two are sent inside the transaction that writes them. Connect receivers in AppConfig.ready()
and keep them thin: record the task the event calls for with apps.core.outbox.task_enqueue, which
commits (or rolls back) with the event's data and is published after commit; a receiver that raises
fails the write. `first_index` is the lowest index written and `count` how many steps were new; when
a runtime numbers its own steps the new ones need not be contiguous. `work`, when not None, tells the
receivers whether the steps need them: a sender that reads the project anyway (/decide) evaluates
the registered work conditions in its own statement, sparing the receivers a query per call.
The routine /decide write, one statement that commits by itself, goes further: it does not send
steps_appended but writes the outbox rows of the registered tasks (steps_work_tasks) in that same
statement, so no crash between the decision and its promised work can lose the work.

`steps_storing` is sent *inside* the transaction that writes new steps, with the steps as stored
(normalised dicts with their index), by every path that stores steps: batches, OTLP, imports,
single appends (worker-run episodes too). It is for indexes that must be exactly as current as the
steps (the policy provenance index); a receiver that raises aborts the write. Decision steps that
/decide writes itself do not pass through it: they carry no content of their own.

    steps_storing.send(sender=Episode, episode=episode, steps=[{...}, ...])

`steps_mask_register(fn)`: fn(project_id, steps) may replace the `arguments` of normalised steps
before they are numbered, hashed and written, and returns the steps it changed (the policies app masks the arguments its policies mark
sensitive), on every path that stores steps; like steps_storing, it runs in the writing transaction.
"""

from collections.abc import Callable

from django.dispatch import Signal

from apps.traces import schema

steps_appended = Signal()
episode_ended = Signal()
steps_storing = Signal()

# fn(project_id, steps): rewrites steps before they are hashed and stored (see steps_mask_register).
_maskers: list[Callable[[int, list[dict]], list[dict]]] = []


def steps_mask_register(fn: Callable[[int, list[dict]], list[dict]]) -> None:
    """Registers a function that may replace values of steps about to be stored; call from ready()."""
    if fn not in _maskers:
        _maskers.append(fn)


def steps_mask(project_id: int, steps: list[dict]) -> None:
    """Runs the registered maskers; each returns the steps whose `arguments` it replaced, whose
    canonical JSON (kept by schema.step_normalize for the digest and COPY) is then made again."""
    for fn in _maskers:
        for step in fn(project_id, steps):
            texts = step.get(schema.JSON_TEXTS)
            if texts is not None and "arguments" in texts:
                texts["arguments"] = schema.json_text(step["arguments"], "arguments")


# name -> condition(project SQL expression) -> SQL boolean: "this project's new steps need work".
_work_conditions: dict[str, Callable[[str], str]] = {}
# name -> the Celery task (its name) the receiver promises when there is work: task(episode_id, first_index).
_work_tasks: dict[str, str] = {}


def steps_work_register(*, name: str, condition: Callable[[str], str], task: str) -> None:
    """Registers (or replaces) a steps_appended receiver's work condition and the task that does
    the work, called as task(episode_id, first_index); call from ready()."""
    _work_conditions[name] = condition
    _work_tasks[name] = task


def steps_work_tasks() -> list[str]:
    """The registered receivers' tasks: what a writer that records the work itself (/decide) promises."""
    return [task for _name, task in sorted(_work_tasks.items())]


def steps_work_sql(project: str) -> str:
    """One SQL boolean: any registered work condition holds for `project` (an SQL expression)."""
    conditions = [condition(project) for _name, condition in sorted(_work_conditions.items())]
    if len(conditions) == 1:
        return conditions[0]
    return " OR ".join(f"({c})" for c in conditions) if conditions else "false"
