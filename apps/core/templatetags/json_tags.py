import json

from django import template

register = template.Library()

MAX_SHOWN = 20_000


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for pages (replay, decisions, approvals), cut short for very large values."""
    if value is None:
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"\n… ({len(text) - MAX_SHOWN} more characters)"
