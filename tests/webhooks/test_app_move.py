"""The outbox moved from sellers to the webhooks app with its tables: an existing database keeps
every endpoint, delivery and attempt across the migration, and back."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

BEFORE = [("sellers", "0003_seller_require_two_factor"), ("webhooks", None)]


def test_the_tables_keep_their_names():
    assert [m._meta.db_table for m in (WebhookEndpoint, WebhookDelivery, WebhookAttempt)] == [
        "sellers_webhookendpoint", "sellers_webhookdelivery", "sellers_webhookattempt"]


@pytest.mark.django_db(transaction=True)
def test_outbox_rows_survive_the_move_and_back():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("sellers", "webhooks")]
    old = executor.loader.project_state(BEFORE[:1] + others).apps
    seller = old.get_model("sellers", "Seller").objects.create(slug="moving", name="Moving")
    endpoint = old.get_model("sellers", "WebhookEndpoint").objects.create(
        seller=seller, url="https://hooks.example/moving", secret="whsec_x")
    delivery = old.get_model("sellers", "WebhookDelivery").objects.create(
        endpoint=endpoint, seller=seller, message_id="msg_moving", event_type="payment.completed", payload={})
    old.get_model("sellers", "WebhookAttempt").objects.create(delivery=delivery, status_code=500)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    moved = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)
    assert moved.endpoint.url == "https://hooks.example/moving" and moved.seller_id == seller.pk
    assert list(moved.attempt_log.values_list("status_code", flat=True)) == [500]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert old.get_model("sellers", "WebhookEndpoint").objects.get(pk=endpoint.pk).url.endswith("/moving")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert WebhookEndpoint.objects.filter(seller_id=seller.pk).count() == 1
