"""Say whether photo storage works: the container exists and the identity may use it."""

from typing import Any

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check that the photo container exists and the managed identity may use it."

    def handle(self, *args: Any, **options: Any) -> None:
        storage = storages["default"]
        if not hasattr(storage, "check"):
            self.stdout.write("Photos are stored on local disk.")
            return
        ok, detail = storage.check()
        if not ok:
            raise CommandError(f"Photo storage is not usable: {detail}")
        self.stdout.write(self.style.SUCCESS(f"Photo storage OK: {detail}"))
