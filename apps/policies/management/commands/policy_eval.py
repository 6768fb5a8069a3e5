from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.policies import replay, selectors
from apps.policies.engine_cache import compiled
from apps.policies.management.commands._policy_file import compile_file
from apps.tenancy.models import Project
from apps.traces.models import Episode


class Command(BaseCommand):
    help = ("Replays stored episodes' action steps (or a JSONL file of tool calls) through a policy "
            "version or file and reports which verdicts would change.")

    def add_arguments(self, parser):
        parser.add_argument("--project", help="project slug (needed for --policy and for stored episodes)")
        parser.add_argument("--policy", help="published policy name; its active version unless --policy-version")
        parser.add_argument("--policy-version", dest="policy_version", help="version number or digest prefix")
        parser.add_argument("--file", help="an unpublished policy file instead of --policy")
        parser.add_argument("--jsonl", help="replay this JSONL file of calls instead of stored episodes")
        parser.add_argument("--episode", action="append", default=[], help="external id (repeatable)")
        parser.add_argument("--limit", type=int, default=100, help="latest N episodes (default 100)")
        parser.add_argument("--show", type=int, default=20, help="list at most N changed calls")

    def handle(self, *args, **o):
        project = None
        if o["project"]:
            project = Project.objects.filter(slug=o["project"]).first()
            if project is None:
                raise CommandError(f"No project '{o['project']}'.")
        policy = self._policy(project, o)
        if o["jsonl"]:
            try:
                with Path(o["jsonl"]).open(encoding="utf-8") as lines:
                    report = replay.replay_jsonl(policy=policy, lines=lines, keep=o["show"])
            except OSError as exc:
                raise CommandError(f"{o['jsonl']}: {exc.strerror}") from None
            except ValueError as exc:
                raise CommandError(f"{o['jsonl']}: {exc}") from None
        else:
            if project is None:
                raise CommandError("Give --project to replay stored episodes (or --jsonl FILE).")
            episodes = Episode.objects.filter(project=project)
            if o["episode"]:
                episodes = episodes.filter(external_id__in=o["episode"])
            episodes = episodes.order_by("-started_at")[: o["limit"]]
            report = replay.replay_episodes(policy=policy, project=project, episodes=episodes, keep=o["show"])
        self.stdout.write(f"policy {policy.name} ({policy.digest[:12]})")
        for line in report.lines():
            self.stdout.write(line)

    def _policy(self, project, o):
        if o["file"]:
            return compile_file(o["file"])
        if not (project and o["policy"]):
            raise CommandError("Give --file FILE, or --project and --policy NAME [--policy-version N].")
        found = selectors.policy_get(project=project, name=o["policy"])
        if found is None:
            raise CommandError(f"No policy '{o['policy']}' in {project.slug}.")
        version = selectors.version_get(policy=found, ref=o["policy_version"]) if o["policy_version"] else found.in_force
        if version is None:
            raise CommandError("No such version." if o["policy_version"] else "The policy has no active version.")
        return compiled(digest=version.digest, source=version.source)
