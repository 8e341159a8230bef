from django.core.management.base import BaseCommand

from payments.demo import seed


class Command(BaseCommand):
    help = "Create demo staff, two sellers with logins, products, API keys and a 90-day history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=300, help="historical orders per seller (default 300)")

    def handle(self, *args, orders: int, **options):
        seed(orders, self.stdout.write)
