from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        from library.player_profiles import connect_invalidation

        connect_invalidation()
