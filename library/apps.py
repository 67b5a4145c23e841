from django.apps import AppConfig
from django.core import checks


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        # Registers the app's Celery tasks in every process (web ones too): the services send them by name and
        # never import the task modules, which import the services.
        import library.tasks  # noqa: F401
        from library.ingest.insert import check_plain_insert_models
        from library.player_profiles import connect_invalidation

        checks.register(check_plain_insert_models)
        connect_invalidation()
