from pathlib import Path

from django.core.management.base import CommandError

from apps.policies import engine


def compile_file(path: str) -> engine.CompiledPolicy:
    """Reads and compiles a policy file; a CommandError lists every issue with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None
    try:
        return engine.compile_policy(text)
    except engine.PolicyError as exc:
        raise CommandError("\n".join(f"{path}: {issue}" for issue in exc.issues)) from None
