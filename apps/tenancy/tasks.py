from celery import shared_task


@shared_task
def idempotency_purge_task() -> int:
    from apps.tenancy.idempotency import idempotency_purge

    return idempotency_purge()
