"""The API key read's hand-kept column lists match the models, and positions in its row hold what they name."""

import pytest
from django.db import connection

from apps.tenancy import sql
from apps.tenancy.models import ApiKey, Project
from apps.tenancy.services import api_key_create

pytestmark = pytest.mark.django_db


def _columns(model) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def test_key_and_project_columns_exist_on_their_models():
    assert set(sql.KEY_COLUMNS) <= _columns(ApiKey)
    assert set(sql.PROJECT_COLUMNS) <= _columns(Project)


def test_a_key_row_holds_the_project_id_where_key_project_id_says(project, other_project):
    key, _raw = api_key_create(project=other_project, name="k", scopes=["read"])
    with connection.cursor() as cursor:
        cursor.execute(sql.KEY_SQL, [key.prefix])
        row = cursor.fetchone()
    assert len(row) == sql.KEY_WIDTH
    assert row[sql.KEY_PROJECT_ID] == other_project.id != project.id
