"""The one way a page shows a service's ValidationError: on a form, or as a list of lines."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

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
