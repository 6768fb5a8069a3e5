from django.core.management.base import BaseCommand, CommandError

from apps.policies import engine
from apps.policies.management.commands._policy_file import compile_file


class Command(BaseCommand):
    help = "Runs a policy file's embedded test cases offline with the pure engine (exit 1 on any failure)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        policy = compile_file(file)
        results = engine.run_tests(policy)
        for result in results:
            self.stdout.write(str(result))
        failed = sum(1 for r in results if not r.passed)
        summary = f"{len(results) - failed} passed, {failed} failed"
        if failed:
            raise CommandError(summary)
        self.stdout.write(summary if results else "no test cases: add a 'tests:' list to the policy")
