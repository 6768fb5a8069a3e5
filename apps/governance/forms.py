from django import forms

from apps.core.jsonbody import JsonBodyError, json_parse
from apps.governance.models import SanctionKind


class SanctionForm(forms.Form):
    agent = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=SanctionKind.choices)
    tool = forms.CharField(max_length=200, required=False, help_text="tool name or glob, for revoke / tighten")
    details = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": '{"amount": {"maximum": 100}}'}),
        help_text='JSON: argument bounds for tighten, {"amount": 50} for a fine',
    )
    reason = forms.CharField(max_length=2000)

    def clean_details(self) -> dict:
        raw = self.cleaned_data["details"].strip()
        if not raw:
            return {}
        try:
            value = json_parse(raw)
        except JsonBodyError as exc:
            raise forms.ValidationError(f"Not JSON: {exc.message}" if exc.field == "body" else str(exc)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object, e.g. {\"amount\": {\"maximum\": 100}}.")
        return value


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000)


class MoveForm(forms.Form):
    to = forms.CharField(max_length=100)
    reason = forms.CharField(max_length=2000)


class GraphForm(forms.Form):
    source = forms.CharField(widget=forms.Textarea(attrs={"rows": 28, "spellcheck": "false", "data-editor": ""}))
