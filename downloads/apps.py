from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "downloads"
    verbose_name = "Downloads"

    def ready(self) -> None:
        from django.core.checks import register

        from downloads.checks import download_sources_check

        register(download_sources_check)
