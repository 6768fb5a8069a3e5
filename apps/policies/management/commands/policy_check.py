from django.core.management.base import BaseCommand

from apps.policies.management.commands._policy_file import compile_file


class Command(BaseCommand):
    help = "Validates a policy file offline: every problem with its rule, field and line (exit 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        policy = compile_file(file)
        self.stdout.write(f"{file}: OK, policy '{policy.name}', {len(policy.rules)} rules, "
                          f"{len(policy.tests)} tests, digest {policy.digest}")
