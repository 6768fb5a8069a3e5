"""The episode packages are pure: no module imports Django or an app other than the pure engines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["apps/episodes/environments", "apps/episodes/agents", "apps/episodes/runner"]
# apps.traces.schema is the one step shape (plain Python, no Django): a pure run's gate normalises
# steps with it so they digest exactly as the trace store's do.
ALLOWED = ("apps.episodes.environments", "apps.episodes.agents", "apps.episodes.runner",
           "apps.policies.engine", "apps.governance.graph", "apps.traces.schema")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_episode_packages_import_neither_django_nor_django_apps():
    bad = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            wrong = sorted(n for n in _imports(path) if n.split(".")[0] == "django"
                           or (n.startswith("apps") and not n.startswith(ALLOWED)))
            if wrong:
                bad[str(path.relative_to(ROOT))] = wrong
    assert bad == {}


def test_the_step_shape_a_pure_run_borrows_imports_neither_django_nor_any_app():
    assert {n for n in _imports(ROOT / "apps/traces/schema.py")
            if n.split(".")[0] in ("django", "apps", "rest_framework", "celery")} == set()
