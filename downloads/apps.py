from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "downloads"
    verbose_name = "Downloads"

    def ready(self) -> None:
        from django.core.checks import register

        from downloads.checks import download_sources_check

        register(download_sources_check)

        # Registers the app's Celery tasks in every process (web ones too): the services send them by name and
        # never import the task modules, which import the services.
        import downloads.tasks  # noqa: F401
