"""Publishing governance graphs: logged, content-hashed immutable versions, and the graph's sanctions on /decide."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import GovernanceLogEntry
from apps.governance.graphs import graph_publish
from apps.governance.models import GraphVersion
from tests.governance.builders import MARKET, log_last

pytestmark = pytest.mark.django_db


def test_publishing_a_graph_logs_its_digest(project):
    version = graph_publish(project=project, source=MARKET, actor="alice")
    entry = log_last(project, "graph.published")
    assert entry.data == {"graph": "market-institution", "number": 1, "digest": version.digest}
    assert version.in_force


def test_publishing_the_same_content_again_returns_the_same_version(project):
    first = graph_publish(project=project, source=MARKET, actor="alice")
    again = graph_publish(project=project, source="# comment\n" + MARKET, actor="alice")
    assert again.pk == first.pk
    assert GovernanceLogEntry.objects.filter(project=project, event="graph.published").count() == 1


def test_an_invalid_graph_is_refused_with_its_lines_and_nothing_is_stored(project):
    with pytest.raises(ValidationError) as info:
        graph_publish(project=project, source=MARKET.replace("to: restricted\n", "to: jail\n"), actor="alice")
    assert any("unknown state 'jail'" in m for m in info.value.message_dict["source"])
    assert not GraphVersion.objects.exists()


def test_a_second_version_takes_over_and_keeps_the_first_immutable(project):
    first = graph_publish(project=project, source=MARKET, actor="alice")
    second = graph_publish(project=project, source=MARKET.replace("minimum: 10", "minimum: 12"), actor="alice")
    first.refresh_from_db()
    assert (first.in_force, second.in_force, second.number) == (False, True, 2)
    assert "minimum: 10" in first.source


def test_graph_quantity_floor_rewrites_or_blocks_a_low_quantity(decide, project):
    from tests.governance.builders import colluding

    graph_publish(project=project, source=MARKET, actor="alice")
    colluding(project)
    colluding(project)
    assert decide("produce", arguments={"quantity": 50})["verdict"] == "allow"
    assert decide("produce", arguments={"quantity": 2})["verdict"] != "allow"


def test_database_refuses_editing_a_published_graph_version(project):
    from django.db import DatabaseError, transaction

    version = graph_publish(project=project, source=MARKET, actor="alice")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        GraphVersion.objects.filter(pk=version.pk).update(source="name: forged")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        GraphVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.source == MARKET
