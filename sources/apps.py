from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "sources"
    verbose_name = "Sources"

    def ready(self) -> None:
        # Registers the app's Celery tasks in every process (web ones too): the services send them by name and
        # never import the task modules, which import the services.
        import sources.tasks  # noqa: F401
