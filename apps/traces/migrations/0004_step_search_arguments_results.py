# A generated column cannot change its expression in place: the search column and its index are
# dropped and built again over content, tool, error, arguments and result (rewrites traces_step).

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('traces', '0003_step_indexes_for_ingest'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='step', name='step_search_gin'),
        migrations.RemoveField(model_name='step', name='search'),
        migrations.AddField(
            model_name='step',
            name='search',
            field=models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector('content', 'tool', 'error', django.db.models.functions.text.Left(django.db.models.functions.comparison.Cast('arguments', models.TextField()), 100000), django.db.models.functions.text.Left(django.db.models.functions.comparison.Cast('result', models.TextField()), 100000), config='english'), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.AddIndex(
            model_name='step',
            index=django.contrib.postgres.indexes.GinIndex(fields=['search'], name='step_search_gin'),
        ),
    ]
