from django.apps import AppConfig
from django.core import checks


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        from library.ingest.insert import check_plain_insert_models

        checks.register(check_plain_insert_models)
