"""Demo data for `make run`: one project, a user per role, an API key, and each domain's examples.

Idempotent: running it again keeps what exists and creates no second key.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.demo import story as demo
from apps.demo.experiments import demo_experiment_seed
from apps.tenancy import services as tenancy
from apps.tenancy.models import ApiKey, Membership, Project, Role

DEMO_PASSWORD = "warden-demo"
DEMO_USERS = [("admin", Role.ADMIN), ("reviewer", Role.REVIEWER), ("viewer", Role.VIEWER)]


class Command(BaseCommand):
    help = "Create the demo project, users (one per role), an API key and example data."

    def add_arguments(self, parser):
        parser.add_argument("--without-experiment", action="store_true",
                            help="skip the demo experiment (its runs take a few seconds)")

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            project = Project.objects.filter(slug="demo").first() or tenancy.project_create(
                slug="demo", name="Demo project"
            )
            if not project.graphs_public:  # the tour links to the public graph page
                tenancy.project_graphs_public_set(project=project, public=True, actor="seed_demo")
            users = {}
            for username, role in DEMO_USERS:
                user, created = User.objects.get_or_create(username=username)
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
                Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
                users[role] = user
            raw = None
            if not ApiKey.objects.filter(project=project, name="demo-runtime").exists():
                _key, raw = tenancy.api_key_create(
                    project=project, name="demo-runtime", scopes=["ingest", "decide", "read"], actor=users[Role.ADMIN]
                )
        with transaction.atomic():
            note = demo.seed(project=project, admin=users[Role.ADMIN])
        # Outside the seed's transaction: each of its runs commits round by round, as in a worker.
        if not options["without_experiment"]:
            note += "\n" + demo_experiment_seed(project=project, actor=users[Role.ADMIN].username)

        self.stdout.write("Demo logins (password '{}'): {}".format(DEMO_PASSWORD, ", ".join(u for u, _ in DEMO_USERS)))
        if raw:
            self.stdout.write(f"Demo API key (shown once, scopes ingest/decide/read): {raw}")
        else:
            self.stdout.write("Demo API key exists already; create a new one on the API keys page if you lost it.")
        self.stdout.write(note)
