from celery import shared_task
from django.db import OperationalError

from apps.policies.approvals import approvals_expire_due


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def approvals_expire_task(self) -> int:
    """Applies the policy default to asks past their deadline (pages and long-polls also do it lazily)."""
    return approvals_expire_due()
