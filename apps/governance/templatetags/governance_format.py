"""Small display filters for governance pages."""

import json

from django import template

register = template.Library()


@register.filter
def as_json(value) -> str:
    """Compact JSON (not Python's repr) for bounds and sanction details."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


@register.filter
def duration(seconds) -> str:
    for unit, size in (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit if n != 1 else unit[:-1]}"
    return f"{seconds} seconds"
