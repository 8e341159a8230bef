# The outbound-webhook models moved to the webhooks app with their tables (db_table keeps the sellers_ names):
# only Django's state changes here, the database is untouched.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('sellers', '0003_seller_require_two_factor'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='endpoint',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='seller',
                ),
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='seller',
                ),
                migrations.DeleteModel(
                    name='WebhookAttempt',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
                migrations.DeleteModel(
                    name='WebhookEndpoint',
                ),
            ],
            database_operations=[],
        ),
    ]
