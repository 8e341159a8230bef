"""Create or update the "Support" and "Finance" staff groups (payments.staff.groups)."""
from django.core.management.base import BaseCommand

from payments.staff.groups import staff_groups_sync


class Command(BaseCommand):
    help = 'Create or update the "Support" and "Finance" staff groups and their permissions (idempotent).'

    def handle(self, *args, **options):
        for name, count in staff_groups_sync().items():
            self.stdout.write(f"group: {name} ({count} permissions)")
