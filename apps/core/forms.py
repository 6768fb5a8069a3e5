"""The one way a page shows a service's ValidationError: on a form, or as a list of lines; the list
page whose form starts a job from a pasted spec."""

import re
from collections.abc import Callable, Iterable

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

# A document's problems already say where they are ("line 3: ..."): shown without the field name.
BARE_FIELDS = (NON_FIELD_ERRORS, "source")


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field name to messages, whether the error was raised with a dict, a list or a string."""
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {NON_FIELD_ERRORS: exc.messages}


def validation_messages(exc: ValidationError) -> list[str]:
    """One line per problem, `field: message` (bare for a whole document's or the form's own)."""
    return [message if field in BARE_FIELDS else f"{field}: {message}"
            for field, messages in validation_errors(exc).items() for message in messages]


def validation_text(exc: ValidationError) -> str:
    """The problems as one sentence-like line, for a page with room for a single error."""
    return " ".join(validation_messages(exc))


def form_apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Shows a service's ValidationError on the form: beside the named field, else above the form."""
    for field, messages in validation_errors(exc).items():
        form.add_error(field if field in form.fields else None, messages)


def spec_list_page(request, *, items, template: str, partial: str, example: str,
                   create: Callable[[str], HttpResponse], per_page: int = 50, **extra) -> HttpResponse:
    """A list of long jobs with a form that starts one from a pasted spec (runs, experiments).

    `create(source)` answers the redirect to the new job, or raises ValidationError: the form comes
    back (400) with the spec as typed and one line per problem. The list polls while a job on the page
    is active; an htmx GET gets only the `partial` fragment of `template`.
    """
    errors, source = [], example
    if request.method == "POST":
        source = request.POST.get("spec", "")
        try:
            return create(source)
        except ValidationError as exc:
            errors = validation_messages(exc)
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    context = {"page": page, "errors": errors, "source": source,
               "polling": any(item.is_active for item in page), **extra}
    if request.htmx and request.method == "GET":
        template += f"#{partial}"
    return render(request, template, context, status=400 if errors else 200)
_LINE = re.compile(r"\bline (\d+)\b")


def located(messages: Iterable[str]) -> list[dict]:
    """Problems as the editors show them: `{"line": 3 or None, "text": ...}`, the line taken out of
    the text ("line 3, field x: m" -> line 3, "field x: m"), so the page prints it once, as the
    button that moves the editor's caret to that line (static/js/editor.js)."""
    out: list[dict] = []
    for message in messages:
        match = _LINE.search(message)
        if match is None:
            out.append({"line": None, "text": message})
            continue
        before, after = message[:match.start()], message[match.end():]
        text = before.rstrip(", ") + after if before.strip() else after.lstrip(",: ")
        out.append({"line": int(match.group(1)), "text": text})
    return out
