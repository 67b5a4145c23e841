"""Users, their Subsonic app-passwords, API keys, ListenBrainz tokens and Last.fm sessions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class TranscodeFormat(models.TextChoices):
    """The formats a listener or a player can be given by default (`library.transcoding.CODECS` encodes each)."""

    MP3 = "mp3", "MP3"
    OPUS = "opus", "Opus (Ogg)"
    AAC = "aac", "AAC (ADTS)"
    FLAC = "flac", "FLAC"


class User(AbstractUser):
    """A person using mcma. `is_staff`/`is_superuser` make an admin; the flags below are Subsonic roles."""

    can_download = models.BooleanField(default=True, help_text="May download original files.")
    can_stream = models.BooleanField(default=True, help_text="May stream media.")
    can_edit_playlists = models.BooleanField(default=True, help_text="May create and change playlists.")
    can_share = models.BooleanField(default=False, help_text="May create public share links.")
    can_comment = models.BooleanField(default=False)
    can_request_downloads = models.BooleanField(default=True, help_text="May download from external sources.")
    max_bitrate = models.PositiveIntegerField(default=0, help_text="Streaming bitrate cap in kbps; 0 = none.")
    default_format = models.CharField(
        max_length=8,
        choices=TranscodeFormat.choices,
        blank=True,
        default="",
        help_text="What this user's players get when they name no format (a player profile's own default wins); "
        "blank = the original file unless a cap needs a transcode.",
    )
    download_daily_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Songs this user may ask to download from external sources per 24 hours; 0 = no limit, "
        "empty = the server's DOWNLOAD_DAILY_LIMIT.",
    )
    subsonic_external_search = models.BooleanField(
        default=True,
        help_text="Subsonic searches also show YouTube Music hits (when the server enables it and the user may "
        "request downloads).",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_format__in=["", *TranscodeFormat.values]),
                name="accounts_user_default_format_known",
            ),
        ]

    @property
    def is_admin(self) -> bool:
        return bool(self.is_staff or self.is_superuser)


class SubsonicCredential(models.Model):
    """The Subsonic app-password: recoverable (token auth needs it), so stored encrypted, never hashed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subsonic_credential")
    ciphertext = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Subsonic password of {self.user_id}"


class ScrobbleLink(models.Model):
    """A user's credential for a scrobbling service: recoverable (every submission sends it), so stored encrypted.
    `rejected_at` is set when the service refused it: nothing is sent until the user gives a new one, and the
    plays made meanwhile wait in the queue."""

    ciphertext = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rejected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ListenBrainzLink(ScrobbleLink):
    """A user's ListenBrainz user token."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listenbrainz")
    listenbrainz_username = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"ListenBrainz link of {self.user_id}"


class LastFmLink(ScrobbleLink):
    """A user's Last.fm session key, from the browser authorisation (it never expires; the user can revoke it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lastfm")
    lastfm_username = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"Last.fm link of {self.user_id}"


class ApiKey(models.Model):
    """A per-user API key for scripts and OpenSubsonic `apiKey` auth; only a hash and a display prefix are kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"
