"""The step statements' hand-kept column lists match the Step model."""

from django.db import models

from apps.traces import sql
from apps.traces.models import Step


def test_step_columns_are_every_written_column_of_the_step_model():
    # id defaults; the database computes generated columns (the search vector)
    columns = [f.column for f in Step._meta.concrete_fields
               if f.column != "id" and not isinstance(f, models.GeneratedField)]
    assert sorted(sql.STEP_COLUMNS) == sorted(columns)


def test_json_columns_of_a_step_are_its_json_fields_and_are_cast_to_jsonb():
    json_fields = {f.column for f in Step._meta.concrete_fields if isinstance(f, models.JSONField)}
    assert set(sql.STEP_JSON_COLUMNS) == json_fields
    assert {c for c, t in sql.STEP_TYPES.items() if t == "jsonb"} == json_fields


def test_a_step_row_puts_each_value_under_its_column():
    step = {column: f"v-{column}" for column in sql.STEP_COLUMNS}
    step.update(arguments=None, result=None, attributes=None)
    assert dict(zip(sql.STEP_COLUMNS, sql.step_row(step), strict=True)) == step
