from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0015_artwork_lyrics"),
    ]

    operations = [
        # Nullable without a default: SQLite adds it in place (no table rebuild, the triggers stay).
        migrations.AddField(
            model_name="album",
            name="cover_source",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
    ]
