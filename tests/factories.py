import factory
from django.contrib.auth import get_user_model

from apps.tenancy.models import Membership, Project, Role
from apps.traces.models import Episode, Step


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw-for-tests")
        if create:
            obj.save(update_fields=["password"])


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"ep-{n}")
    title = factory.Sequence(lambda n: f"Episode {n}")
    agents = factory.LazyFunction(lambda: ["assistant"])


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    episode = factory.SubFactory(EpisodeFactory)
    project = factory.SelfAttribute("episode.project")
    index = factory.Sequence(lambda n: n)
    kind = "message"
    digest = factory.Sequence(lambda n: f"{n:064x}")
