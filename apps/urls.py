from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.core.health import healthz
from apps.core.pages import favicon
from apps.dashboard.views import overview
from apps.reviews.views import metrics_overview
from apps.tenancy import views as tenancy_views
from apps.tenancy.forms import LockoutAuthenticationForm
from apps.traces.otlp.views import OtlpTracesApi

DOMAINS = ["traces", "policies", "contracts", "governance", "reviews", "annotations", "dashboard"]

# Runtimes call /decide before every tool call: its patterns are tried first. Reviews serves
# /contracts/metrics, so it comes before contracts and its contracts/<name>.
API_ORDER = ["policies", "reviews", *(d for d in DOMAINS if d not in ("policies", "reviews"))]
api_patterns = [path("", include(f"apps.{d}.api_urls", namespace=d)) for d in API_ORDER]
api_patterns.append(path("", include("apps.tenancy.api_urls", namespace="tenancy")))
api_patterns.append(path("", include("apps.episodes.api_urls", namespace="episodes")))
api_patterns.append(path("", include("apps.experiments.api_urls", namespace="experiments")))

urlpatterns = [
    path("api/v1/", include((api_patterns, "api"))),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("v1/traces", OtlpTracesApi.as_view(), name="otlp_traces"),
    path("", include("apps.governance.public_urls")),  # public graph pages, no login
    # Repeated wrong passwords lock a username+address pair for a while (apps/tenancy/limits.py).
    path("login/", auth_views.LoginView.as_view(template_name="tenancy/login.html",
                                                authentication_form=LockoutAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", tenancy_views.home, name="home"),
    path("p/<slug:project>/", overview, name="project"),  # the project overview (dashboard app)
    path("p/<slug:project>/", include("apps.tenancy.urls")),
    # Trace metrics read violations (reviews app) and keep their path beside the contracts pages.
    path("p/<slug:project>/contracts/metrics/", metrics_overview, name="metrics"),
    *[path(f"p/<slug:project>/{d}/", include(f"apps.{d}.urls")) for d in DOMAINS],
    path("p/<slug:project>/runs/", include("apps.episodes.urls")),
    path("p/<slug:project>/experiments/", include("apps.experiments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

# An error no view handled: JSON for the API, 503 + Retry-After when the database is unavailable.
handler500 = "apps.core.errors.server_error"
handler404 = "apps.core.errors.not_found"
