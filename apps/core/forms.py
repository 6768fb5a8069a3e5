from django import forms
from django.core.exceptions import ValidationError


def form_apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Shows a service's ValidationError on the form: beside the named field, else above the form."""
    for field, messages in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
