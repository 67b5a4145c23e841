"""The music library: artists, albums, tracks, genres, playlists and per-user annotations.

Identity rules are database constraints. Albums are identified by album artist + album name (+ MusicBrainz
release id), never by folder; `name_key` columns hold the case- and accent-folded name used for identity and
search (see library.text), `sort_name` the name without a leading article.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import TranscodeFormat


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Genre(models.Model):
    name = models.CharField(max_length=255)
    name_key = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ("name_key",)

    def __str__(self) -> str:
        return self.name


class Artist(TimestampedModel):
    name = models.CharField(max_length=500)
    name_key = models.CharField(max_length=500, db_index=True)
    sort_name = models.CharField(max_length=500, db_index=True)
    musicbrainz_id = models.CharField(max_length=36, blank=True, default="")
    # Denormalised counts, refreshed after each import batch; they keep Subsonic lists free of aggregates.
    album_count = models.PositiveIntegerField(default=0)
    track_count = models.PositiveIntegerField(default=0)
    image_path = models.CharField(max_length=1024, blank=True, default="")

    class Meta:
        ordering = ("sort_name",)
        constraints = [models.UniqueConstraint(fields=["name_key", "musicbrainz_id"], name="artist_identity")]

    def __str__(self) -> str:
        return self.name


class Album(TimestampedModel):
    # Indexes that another one already leads with are left out (each costs every insert): `album_newest_idx`
    # serves created_at in both orders, `album_artist_sort_idx` (and `album_identity`) the album artist,
    # `album_year_idx` the year.
    created_at = models.DateTimeField(auto_now_add=True)
    name = models.CharField(max_length=500)
    name_key = models.CharField(max_length=500, db_index=True)
    sort_name = models.CharField(max_length=500, db_index=True)
    album_artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="albums", db_index=False)
    musicbrainz_release_id = models.CharField(max_length=36, blank=True, default="")
    musicbrainz_release_group_id = models.CharField(max_length=36, blank=True, default="")
    # MusicBrainz release group type: "album", "single", "ep", "compilation", "live" … (primary + secondary).
    release_type = models.CharField(max_length=100, blank=True, default="")
    is_compilation = models.BooleanField(default=False)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    original_year = models.PositiveSmallIntegerField(null=True, blank=True)
    release_date = models.CharField(max_length=10, blank=True, default="", help_text="YYYY, YYYY-MM or YYYY-MM-DD")
    genres = models.ManyToManyField(Genre, related_name="albums", blank=True)
    # Managed-storage path (relative to MEDIA_ROOT) of the album's cover, extracted once per album.
    cover_path = models.CharField(max_length=1024, blank=True, default="")
    # Where that cover came from, a COVER_ART_PRIORITY name ("embedded", "folder", "caa", "source"), so a better
    # ranked origin can replace it. NULL with a cover: stored before origins were recorded, never replaced.
    cover_source = models.CharField(max_length=16, null=True, blank=True)
    # When the Cover Art Archive was last asked for this album's release and had nothing (or failed for good).
    cover_archive_checked_at = models.DateTimeField(null=True, blank=True)
    # Denormalised from the album's present tracks.
    track_count = models.PositiveIntegerField(default=0)
    disc_count = models.PositiveSmallIntegerField(default=1)
    duration_ms = models.PositiveBigIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ("sort_name",)
        constraints = [
            models.UniqueConstraint(
                fields=["album_artist", "name_key", "musicbrainz_release_id"], name="album_identity"
            )
        ]
        indexes = [
            models.Index(fields=["album_artist", "sort_name"], name="album_artist_sort_idx"),
            models.Index(fields=["-created_at"], name="album_newest_idx"),
            models.Index(fields=["year", "sort_name"], name="album_year_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class MetadataStatus(models.TextChoices):
    """Where a track stands with identification (library.enrichment): `metadata_reason` says why it is there."""

    PENDING = "pending", "Pending"
    ENRICHED = "enriched", "Enriched"
    UNMATCHED = "unmatched", "Unmatched"
    FAILED = "failed", "Failed"


class Track(TimestampedModel):
    # As on Album: `track_newest_idx` serves created_at, `track_artist_idx` the artist, `track_album_order_idx`
    # the album. Nothing looks tracks up by checksum.
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=32, help_text="Registry alias of the source that brought the file.")
    source_id = models.CharField(max_length=1024, help_text="Identity within the source (local: path in root).")
    title = models.CharField(max_length=500)
    title_key = models.CharField(max_length=500, db_index=True)
    sort_title = models.CharField(max_length=500, blank=True, default="")
    artist = models.ForeignKey(
        Artist, on_delete=models.PROTECT, related_name="tracks", help_text="Primary artist.", db_index=False
    )
    artist_display = models.CharField(max_length=1000, help_text="The artist credit as tagged, e.g. 'A feat. B'.")
    artists = models.ManyToManyField(Artist, through="TrackArtist", related_name="credited_tracks")
    album = models.ForeignKey(Album, on_delete=models.PROTECT, related_name="tracks", db_index=False)
    genres = models.ManyToManyField(Genre, related_name="tracks", blank=True)
    track_number = models.PositiveSmallIntegerField(null=True, blank=True)
    disc_number = models.PositiveSmallIntegerField(default=1)
    disc_subtitle = models.CharField(max_length=500, blank=True, default="")
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    date = models.CharField(max_length=10, blank=True, default="", help_text="YYYY, YYYY-MM or YYYY-MM-DD")
    # Audio properties.
    duration_ms = models.PositiveIntegerField(default=0)
    bitrate = models.PositiveIntegerField(default=0, help_text="kbps")
    sample_rate = models.PositiveIntegerField(default=0, help_text="Hz")
    bit_depth = models.PositiveSmallIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(default=0)
    codec = models.CharField(max_length=32, blank=True, default="")
    suffix = models.CharField(max_length=16)
    content_type = models.CharField(max_length=64)
    # File.
    path = models.CharField(max_length=1024, unique=True, help_text="Path relative to MEDIA_ROOT.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    checksum = models.CharField(max_length=64, blank=True, default="", help_text="BLAKE3 hex")
    source_mtime_ns = models.BigIntegerField(null=True, blank=True, help_text="Source file mtime at import.")
    source_size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Source file size at import.")
    is_missing = models.BooleanField(default=False, help_text="The source file vanished; kept, not deleted.")
    has_embedded_cover = models.BooleanField(default=False)
    # Identifiers and extra tags.
    musicbrainz_recording_id = models.CharField(max_length=36, blank=True, default="")
    musicbrainz_track_id = models.CharField(max_length=36, blank=True, default="")
    musicbrainz_release_id = models.CharField(max_length=36, blank=True, default="")
    musicbrainz_artist_id = models.CharField(max_length=36, blank=True, default="")
    musicbrainz_album_artist_id = models.CharField(max_length=36, blank=True, default="")
    isrc = models.CharField(max_length=15, blank=True, default="")
    replaygain_track_gain = models.FloatField(null=True, blank=True)
    replaygain_track_peak = models.FloatField(null=True, blank=True)
    replaygain_album_gain = models.FloatField(null=True, blank=True)
    replaygain_album_peak = models.FloatField(null=True, blank=True)
    # dB every decoder applies before any ReplayGain (Ogg Opus's header output gain); NULL: the format has none.
    replaygain_base_gain = models.FloatField(null=True, blank=True)
    bpm = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    lyrics = models.TextField(blank=True, default="", help_text="Embedded unsynchronised lyrics.")
    synced_lyrics = models.TextField(blank=True, default="", help_text="LRC text when the file carries it.")
    explicit = models.BooleanField(null=True, blank=True)
    metadata_status = models.CharField(
        max_length=16, choices=MetadataStatus.choices, default=MetadataStatus.PENDING, db_index=True
    )
    metadata_reason = models.CharField(
        max_length=500, blank=True, default="", help_text="Why identification left the track as it is."
    )
    # Names of the fields someone edited by hand (admin); identification never overwrites them.
    edited_fields = models.JSONField(default=list, blank=True)
    # Source-specific extras (e.g. YouTube videoType, low-confidence flag); never used for identity.
    source_metadata = models.JSONField(default=dict, blank=True)
    # Metadata left out on purpose, {what: why} (an absurd ReplayGain tag, a corrupt .lrc, a cover that is not
    # an image, a failed loudness measurement): kept for the admin and so the sweeps do not retry it forever.
    # Nullable (null: nothing skipped) so that adding it is an ALTER TABLE: on SQLite a table rebuild would drop
    # the search-index triggers.
    metadata_skips = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("album", "disc_number", "track_number", "title_key")
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="track_source_identity")]
        indexes = [
            models.Index(fields=["album", "disc_number", "track_number"], name="track_album_order_idx"),
            models.Index(fields=["artist", "title_key"], name="track_artist_idx"),
            models.Index(fields=["-created_at"], name="track_newest_idx"),
            # The full-library sync (search3 "" paged by offset to 100k songs) walks present tracks in key
            # order: from this index alone, without reading a table row per skipped song.
            models.Index(fields=["is_missing", "id"], name="track_present_idx"),
            # An external search hit that carries an ISRC or MusicBrainz recording id is matched on it (the
            # library has the song from another source): only tracks that have one are indexed.
            models.Index(fields=["isrc"], condition=~models.Q(isrc=""), name="track_isrc_idx"),
            models.Index(
                fields=["musicbrainz_recording_id"],
                condition=~models.Q(musicbrainz_recording_id=""),
                name="track_recording_mbid_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TrackEnrichment(models.Model):
    """What one identification changed on a track: `changes` maps a field name to [old, new] (related rows as
    their identity: names and MusicBrainz ids), so the change can be shown and reverted."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="enrichments")
    created_at = models.DateTimeField(auto_now_add=True)
    musicbrainz_recording_id = models.CharField(max_length=36)
    musicbrainz_release_id = models.CharField(max_length=36, blank=True, default="")
    score = models.FloatField(help_text="Match confidence, 0 to 1 (1 for a lookup by a tagged id).")
    changes = models.JSONField(default=dict)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = [models.Index(fields=["track", "-created_at"], name="track_enrichment_recent_idx")]

    def __str__(self) -> str:
        return f"enrichment of track {self.track_id} from recording {self.musicbrainz_recording_id}"


class ServiceRateSlot(models.Model):
    """The next moment one external service may be called, shared by every web and worker process: a caller
    reserves the slot in a short locked transaction and sleeps outside it (library.enrichment.ratelimit)."""

    service = models.CharField(max_length=32, unique=True)
    next_at = models.DateTimeField()
    # Set when the service asked us to back off: until then no worker calls it (their tasks retry later).
    paused_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.service} next at {self.next_at:%H:%M:%S.%f}"


class ArtistRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    FEATURED = "featured", "Featured"


class TrackArtist(models.Model):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="artist_credits")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="track_credits")
    role = models.CharField(max_length=16, choices=ArtistRole.choices, default=ArtistRole.PRIMARY)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("track", "position")
        constraints = [models.UniqueConstraint(fields=["track", "artist", "role"], name="track_artist_role_unique")]

    def __str__(self) -> str:
        return f"{self.artist_id} {self.role} on track {self.track_id}"


# ---------------------------------------------------------------------------------------------------------------
# Per-user annotations: stars, ratings and plays (one row per user and item, created on first touch)
# ---------------------------------------------------------------------------------------------------------------
class AnnotationBase(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starred_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(default=0, help_text="0 (none) to 5.")
    play_count = models.PositiveIntegerField(default=0)
    last_played_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class TrackAnnotation(AnnotationBase):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="annotations")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "track"], name="track_annotation_unique"),
            models.CheckConstraint(condition=Q(rating__lte=5), name="track_rating_range"),
        ]
        indexes = [
            models.Index(fields=["user", "starred_at"], name="track_ann_starred_idx"),
            models.Index(fields=["user", "play_count"], name="track_ann_frequent_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} on track {self.track_id}"


class AlbumAnnotation(AnnotationBase):
    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="annotations")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "album"], name="album_annotation_unique"),
            models.CheckConstraint(condition=Q(rating__lte=5), name="album_rating_range"),
        ]
        indexes = [
            models.Index(fields=["user", "starred_at"], name="album_ann_starred_idx"),
            models.Index(fields=["user", "last_played_at"], name="album_ann_recent_idx"),
            models.Index(fields=["user", "play_count"], name="album_ann_frequent_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} on album {self.album_id}"


class ArtistAnnotation(AnnotationBase):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="annotations")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "artist"], name="artist_annotation_unique"),
            models.CheckConstraint(condition=Q(rating__lte=5), name="artist_rating_range"),
        ]
        indexes = [
            models.Index(fields=["user", "starred_at"], name="artist_ann_starred_idx"),
            models.Index(fields=["user", "play_count"], name="artist_ann_frequent_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} on artist {self.artist_id}"


class LyricsKind(models.TextChoices):
    """Lyrics kept beside the embedded ones (which stay on Track); the names of LYRICS_PRIORITY."""

    LRC = ".lrc", "LRC sidecar"
    TXT = ".txt", "Text sidecar"
    LRCLIB = "lrclib", "LRCLIB"


class TrackLyrics(models.Model):
    """One track's lyrics from one place. An LRCLIB row with empty text records "LRCLIB has none", so the sweep
    does not ask again; a sidecar row's `stamp` ("mtime_ns:size") tells a rescan whether the file changed."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="lyrics_documents")
    kind = models.CharField(max_length=8, choices=LyricsKind.choices)
    text = models.TextField(blank=True, default="")
    synced = models.BooleanField(default=False)
    stamp = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["track", "kind"], name="track_lyrics_kind_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} lyrics of track {self.track_id}"


class PlaySource(models.TextChoices):
    """How a play was reported: the double-count rule pairs a scrobble with a reportPlayback session."""

    SCROBBLE = "scrobble"
    PLAYBACK_REPORT = "playback_report"


class Play(models.Model):
    """One completed play (scrobble submission or a finished reportPlayback); the history behind play counts."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plays")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="plays")
    played_at = models.DateTimeField(db_index=True)
    client = models.CharField(max_length=100, blank=True, default="")
    source = models.CharField(max_length=16, choices=PlaySource.choices, default=PlaySource.SCROBBLE)

    class Meta:
        ordering = ("-played_at",)
        indexes = [models.Index(fields=["user", "-played_at"], name="play_user_recent_idx")]

    def __str__(self) -> str:
        return f"user {self.user_id} played track {self.track_id} at {self.played_at:%Y-%m-%d %H:%M}"


class ScrobbleService(models.TextChoices):
    """Where a user's plays can be forwarded (`library.scrobbling`)."""

    LISTENBRAINZ = "listenbrainz", "ListenBrainz"
    LASTFM = "lastfm", "Last.fm"


class PendingListen(models.Model):
    """A play waiting to reach one of the user's scrobbling services; deleted once that service took it. Kept
    while the service is down or refuses the user's credential, so no listen is lost (the sweep resends)."""

    play = models.ForeignKey(Play, on_delete=models.CASCADE, related_name="pending_listens")
    service = models.CharField(max_length=16, choices=ScrobbleService.choices, default=ScrobbleService.LISTENBRAINZ)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["play", "service"], name="pending_listen_unique")]

    def __str__(self) -> str:
        return f"{self.service} listen of play {self.play_id} ({self.attempts} attempts)"


class PlaybackState(models.TextChoices):
    """The OpenSubsonic `playbackReport` states."""

    STARTING = "starting"
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"


class NowPlaying(models.Model):
    """What each user's player reported last (scrobble submission=false or reportPlayback), for getNowPlaying.

    One row is one listening session of `track` on `player`: `play_counted` says whether this session has already
    become a `Play`, so a player that reports through both reportPlayback and scrobble counts once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="now_playing")
    player = models.CharField(max_length=100, default="")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=PlaybackState.choices, default=PlaybackState.PLAYING)
    position_ms = models.PositiveBigIntegerField(default=0)
    playback_rate = models.FloatField(default=1.0)
    # When `position_ms` was reported: the origin of the extrapolated position while playing.
    reported_at = models.DateTimeField(null=True, blank=True)
    play_counted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "player"], name="now_playing_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} playing track {self.track_id} on {self.player or '?'}"


# ---------------------------------------------------------------------------------------------------------------
# Playlists, bookmarks and play queues
# ---------------------------------------------------------------------------------------------------------------
class Playlist(TimestampedModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playlists")
    name = models.CharField(max_length=500)
    comment = models.TextField(blank=True, default="")
    is_public = models.BooleanField(default=False)
    tracks = models.ManyToManyField(Track, through="PlaylistEntry", related_name="playlists")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class PlaylistEntry(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="entries")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="playlist_entries")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ("playlist", "position")
        constraints = [models.UniqueConstraint(fields=["playlist", "position"], name="playlist_position_unique")]

    def __str__(self) -> str:
        return f"#{self.position} of playlist {self.playlist_id}"


class Bookmark(TimestampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookmarks")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="bookmarks")
    position_ms = models.PositiveBigIntegerField(default=0)
    comment = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "track"], name="bookmark_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} at {self.position_ms} ms in track {self.track_id}"


class PlayQueue(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="play_queue")
    current_index = models.PositiveIntegerField(null=True, blank=True)
    position_ms = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.CharField(max_length=100, blank=True, default="")

    def __str__(self) -> str:
        return f"play queue of user {self.user_id}"


class PlayQueueEntry(models.Model):
    queue = models.ForeignKey(PlayQueue, on_delete=models.CASCADE, related_name="entries")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ("queue", "position")
        constraints = [models.UniqueConstraint(fields=["queue", "position"], name="play_queue_position_unique")]

    def __str__(self) -> str:
        return f"#{self.position} of play queue {self.queue_id}"


# ---------------------------------------------------------------------------------------------------------------
# Internet radio and public shares
# ---------------------------------------------------------------------------------------------------------------
class InternetRadioStation(TimestampedModel):
    name = models.CharField(max_length=500)
    stream_url = models.URLField(max_length=2000)
    homepage_url = models.URLField(max_length=2000, blank=True, default="")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Share(TimestampedModel):
    """A public link to some tracks; `token` is the unguessable part of the URL."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares")
    token = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_visited_at = models.DateTimeField(null=True, blank=True)
    visit_count = models.PositiveIntegerField(default=0)
    tracks = models.ManyToManyField(Track, through="ShareEntry", related_name="shares")

    def __str__(self) -> str:
        return f"share {self.token[:8]}… by user {self.owner_id}"


class ShareEntry(models.Model):
    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="entries")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ("share", "position")
        constraints = [models.UniqueConstraint(fields=["share", "position"], name="share_position_unique")]

    def __str__(self) -> str:
        return f"#{self.position} of share {self.share_id}"


# ---------------------------------------------------------------------------------------------------------------
# References to songs of an external source, waiting for their download
# ---------------------------------------------------------------------------------------------------------------
class PendingAction(models.TextChoices):
    STAR = "star", "star"
    RATING = "rating", "rating"
    PLAY = "play", "play"
    PLAYLIST_ENTRY = "playlist_entry", "playlist entry"
    QUEUE_ENTRY = "queue_entry", "play queue entry"
    BOOKMARK = "bookmark", "bookmark"


class PendingReference(models.Model):
    """What a user did with a song that is not in the library yet (a Subsonic player's `ext-` id). When the
    download lands, `library.services.pending_references_apply` makes it real on the track and deletes the row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_references")
    source = models.CharField(max_length=50)
    external_id = models.CharField(max_length=255)
    action = models.CharField(max_length=20, choices=PendingAction.choices)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    played_at = models.DateTimeField(null=True, blank=True)
    client = models.CharField(max_length=100, blank=True, default="")
    playlist = models.ForeignKey(Playlist, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # A playlist or play queue entry's place in the list as the player sent it; None appends.
    position = models.PositiveIntegerField(null=True, blank=True)
    # A bookmark's place in the song, and its comment.
    position_ms = models.PositiveBigIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "pk")
        indexes = [models.Index(fields=["source", "external_id"], name="pending_reference_item_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(action="rating") | models.Q(rating__isnull=False, rating__lte=5),
                name="pending_reference_rating",
            ),
            models.CheckConstraint(
                condition=~models.Q(action="playlist_entry") | models.Q(playlist__isnull=False),
                name="pending_reference_playlist",
            ),
            models.CheckConstraint(
                condition=~models.Q(action="bookmark") | models.Q(position_ms__isnull=False),
                name="pending_reference_bookmark",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} of {self.source}:{self.external_id} by user {self.user_id}"


class PlayerProfile(TimestampedModel):
    """Admin-set playback limits for a Subsonic player, recognised by its client name (`c`), like Navidrome's
    players: they apply to every user of that player, together with the user's own limit (the lower wins)."""

    client_name = models.CharField(
        max_length=100, help_text="The player's Subsonic client name (its `c` parameter), matched ignoring case."
    )
    max_bitrate = models.PositiveIntegerField(
        default=0, help_text="Streaming bitrate cap in kbps; 0 = none. The lower of this and the user's cap applies."
    )
    default_format = models.CharField(
        max_length=8,
        choices=TranscodeFormat.choices,
        blank=True,
        default="",
        help_text="What the player gets when it names no format; blank = the original file unless a cap needs a "
        "transcode.",
    )

    class Meta:
        ordering = ("client_name",)
        constraints = [
            models.UniqueConstraint(Lower("client_name"), name="library_playerprofile_client_name_ci_unique"),
            models.CheckConstraint(
                condition=Q(default_format__in=["", *TranscodeFormat.values]),
                name="library_playerprofile_default_format_known",
            ),
        ]

    def __str__(self) -> str:
        return self.client_name
