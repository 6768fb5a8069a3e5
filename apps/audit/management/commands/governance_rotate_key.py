import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import log_key_rotated
from apps.tenancy.models import Project


class Command(BaseCommand):
    help = (
        "Key rotation. With --generate: prints a fresh key and the WARDEN_LOG_KEYS value that puts it "
        "first while keeping the old keys. Without: after the new key is in WARDEN_LOG_KEYS, logs "
        "'log.key_rotated' in every project whose chain was signed with another key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--generate", metavar="KEY_ID", help="print a new key with this id; changes nothing")

    def handle(self, *args, generate=None, **options):
        if generate:
            if ":" in generate or "," in generate:
                self.stderr.write("a key id may not contain ':' or ','")
                return
            fresh = f"{generate}:{secrets.token_urlsafe(32)}"
            others = ",".join(f"{k}:{v}" for k, v in settings.WARDEN_LOG_KEYS.items() if k != generate)
            self.stdout.write(f"WARDEN_LOG_KEYS={fresh}{',' + others if others else ''}")
            self.stdout.write("Set it for every web and worker process, restart them, then run this command again.")
            return
        ids = GovernanceLogEntry.objects.values_list("project_id", flat=True).distinct()
        for project in Project.objects.filter(id__in=ids).order_by("slug"):
            entry = log_key_rotated(project=project, actor="system")
            if entry:
                self.stdout.write(f"{project.slug}: rotated to key {settings.WARDEN_LOG_KEY_ID} (entry {entry.seq})")
            else:
                self.stdout.write(f"{project.slug}: already signed with {settings.WARDEN_LOG_KEY_ID}")
