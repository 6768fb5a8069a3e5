from celery import shared_task


@shared_task
def ping(marker_path: str | None = None) -> str:
    """Proves a worker is consuming: writes `pong` to marker_path when given."""
    if marker_path:
        with open(marker_path, "w") as fh:
            fh.write("pong")
    return "pong"
