from django import forms
from django.contrib.auth.forms import AuthenticationForm

from apps.tenancy import limits
from apps.tenancy.models import Role, Scope


class LockoutAuthenticationForm(AuthenticationForm):
    """The login form, refusing a username+address pair locked by repeated wrong passwords
    (apps/tenancy/limits.py) before checking the password at all."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = limits.client_address(self.request)
        locked = limits.login_locked_for(username=username, address=address)
        if locked:
            limits.logger.warning("login refused while locked: username=%r address=%s", username, address)
            raise forms.ValidationError(limits.lockout_message(locked), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if self.cleaned_data.get("password"):
                locked = limits.login_failed(username=username, address=address)
                if locked:
                    raise forms.ValidationError(limits.lockout_message(locked), code="locked") from None
            raise
        limits.login_succeeded(username=username, address=address)
        return cleaned


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Optional."
    )
