from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0012_inbound_retry_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="nanocursor",
            name="checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
