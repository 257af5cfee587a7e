"""Created a trigram index of UPPER(name) for the search by name on PostgreSQL. Search now
reads a folded column with its own index (0011, which drops this one where it was made), so a
new database skips it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("restaurant_review", "0005_visible_text"),
    ]

    operations: list[migrations.RunPython] = []
