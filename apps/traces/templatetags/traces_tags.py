from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def hms(value: datetime | None) -> str:
    """A step's time of day in UTC (the replay prints one per step; the `date` filter costs ~10x more)."""
    return value.astimezone(UTC).strftime("%H:%M:%S") if value else ""
