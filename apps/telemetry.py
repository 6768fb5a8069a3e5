"""OpenTelemetry wiring: instrument Django, psycopg and Celery; export only when asked to.

Exporting is opt-in through the standard OTEL_EXPORTER_OTLP_ENDPOINT variable so a laptop
without a collector pays nothing and logs no connection errors.
"""

import os

_done = False


def instrument(service_name: str = "warden-web") -> bool:
    """Instrument once per process. Returns True when spans are exported."""
    global _done
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if _done or not endpoint:
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    CeleryInstrumentor().instrument()
    _done = True
    return True
