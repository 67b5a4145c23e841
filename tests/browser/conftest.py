from tests.fakes.fixtures import cover_jpeg, fake_media, fake_youtube

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]
