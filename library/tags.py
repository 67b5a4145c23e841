"""Reading and writing audio tags: the only importer of mutagen.

Every tag system (ID3, Vorbis comments, MP4 atoms, APEv2, ASF, RIFF INFO) is first flattened into neutral field
names through the alias tables below (data, not code: add a spelling there), then turned into one `TrackTags`.
Anything mutagen cannot parse -- zero-byte, truncated, not audio at all, or a bug in mutagen on a hostile file --
becomes `UnreadableAudioError`, so a caller needs exactly one `except`.
"""

from __future__ import annotations

import base64
import copy
import io
import re
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mutagen
from mutagen.aac import AAC
from mutagen.aiff import AIFF
from mutagen.apev2 import APEv2, APEv2File, APEValue
from mutagen.asf import ASF, ASFByteArrayAttribute
from mutagen.flac import FLAC, Picture
from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    TXXX,
    UFID,
    USLT,
    Frames,
    ID3FileType,
)
from mutagen.monkeysaudio import MonkeysAudio
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.musepack import Musepack
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.trueaudio import TrueAudio
from mutagen.wave import WAVE
from mutagen.wavpack import WavPack

from library.lrc import is_synced, plain_text
from mcma.errors import ApplicationError


class UnreadableAudioError(ApplicationError):
    """The file is not audio mcma can read: empty, truncated, another kind of file, or unreadable."""

    code = "unreadable_audio"


@dataclass(frozen=True)
class TrackTags:
    """Everything mcma keeps from a file's tags and stream properties. Empty string / None mean "not tagged"."""

    title: str = ""
    # Every credited artist, primary first; `featured_artists` are the guests among them.
    artists: Sequence[str] = ()
    featured_artists: Sequence[str] = ()
    artist_display: str = ""  # the credit as tagged, e.g. "A feat. B"
    album: str = ""
    album_artist: str = ""
    track_number: int | None = None
    track_total: int | None = None
    disc_number: int | None = None
    disc_total: int | None = None
    disc_subtitle: str = ""
    year: int | None = None
    date: str = ""  # YYYY, YYYY-MM or YYYY-MM-DD
    original_year: int | None = None
    genres: Sequence[str] = ()
    compilation: bool = False
    # Stream properties (read-only: write_tags ignores them).
    duration_ms: int = 0
    bitrate: int = 0  # kbps
    sample_rate: int = 0
    bit_depth: int | None = None
    channels: int = 0
    codec: str = ""
    suffix: str = ""
    content_type: str = ""
    # Identifiers.
    musicbrainz_recording_id: str = ""
    musicbrainz_track_id: str = ""
    musicbrainz_release_id: str = ""
    musicbrainz_release_group_id: str = ""
    musicbrainz_artist_id: str = ""
    musicbrainz_album_artist_id: str = ""
    isrc: str = ""
    # Loudness, in dB (gain) and linear (peak).
    replaygain_track_gain: float | None = None
    replaygain_track_peak: float | None = None
    replaygain_album_gain: float | None = None
    replaygain_album_peak: float | None = None
    replaygain_base_gain: float | None = None  # Opus output gain, dB: applied before the gains above
    bpm: int | None = None
    lyrics: str = ""
    synced_lyrics: str = ""  # LRC text
    comment: str = ""
    explicit: bool | None = None
    cover: bytes | None = field(default=None, repr=False)
    cover_mime: str = ""
    # True when the file embeds a picture, even after `without_cover()` dropped the bytes to save memory.
    has_cover: bool = False
    # Tags read but left out, {what: why} (Track.metadata_skips), e.g. an absurd ReplayGain value.
    skipped: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cover and not self.has_cover:
            object.__setattr__(self, "has_cover", True)

    @property
    def artist(self) -> str:
        """The primary artist (first credited), or ""."""
        return self.artists[0] if self.artists else ""

    def without_cover(self) -> TrackTags:
        """A copy without the picture's bytes (still `has_cover`). Copied rather than `replace`d: an import
        trims most tracks, and `replace` re-runs the constructor over all fifty fields."""
        bare = copy.copy(self)
        object.__setattr__(bare, "cover", None)
        object.__setattr__(bare, "cover_mime", "")
        return bare


# ---------------------------------------------------------------------------------------------------------------
# Alias tables: neutral field -> the keys each tag system uses for it (matched in any case; the first one is
# written, spelled as here)
# ---------------------------------------------------------------------------------------------------------------
_ITUNES = "----:com.apple.iTunes:"

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "id3": {
        "title": ("TIT2",),
        "artist": ("TPE1",),
        "artists": ("TXXX:ARTISTS",),
        "album": ("TALB",),
        "albumartist": ("TPE2", "TXXX:ALBUMARTIST", "TXXX:ALBUM ARTIST"),
        "track": ("TRCK",),
        "disc": ("TPOS",),
        "discsubtitle": ("TSST", "TXXX:DISCSUBTITLE"),
        "date": ("TDRC", "TYER"),
        "originaldate": ("TDOR", "TXXX:ORIGINALDATE", "TXXX:ORIGINALYEAR"),
        "genre": ("TCON",),
        "compilation": ("TCMP", "TXXX:COMPILATION", "TXXX:TCMP"),  # ffmpeg writes the last
        "mb_recording": ("UFID:http://musicbrainz.org", "TXXX:MusicBrainz Recording Id"),
        "mb_releasetrack": ("TXXX:MusicBrainz Release Track Id",),
        "mb_release": ("TXXX:MusicBrainz Album Id",),
        "mb_releasegroup": ("TXXX:MusicBrainz Release Group Id",),
        "mb_artist": ("TXXX:MusicBrainz Artist Id",),
        "mb_albumartist": ("TXXX:MusicBrainz Album Artist Id",),
        "rg_track_gain": ("TXXX:REPLAYGAIN_TRACK_GAIN",),
        "rg_track_peak": ("TXXX:REPLAYGAIN_TRACK_PEAK",),
        "rg_album_gain": ("TXXX:REPLAYGAIN_ALBUM_GAIN",),
        "rg_album_peak": ("TXXX:REPLAYGAIN_ALBUM_PEAK",),
        "isrc": ("TSRC",),
        "bpm": ("TBPM",),
        "explicit": ("TXXX:ITUNESADVISORY",),
        "lyrics": ("USLT",),
        "comment": ("COMM", "TXXX:COMMENT"),
    },
    "vorbis": {
        "title": ("TITLE",),
        "artist": ("ARTIST",),
        "artists": ("ARTISTS",),
        "album": ("ALBUM",),
        "albumartist": ("ALBUMARTIST", "ALBUM ARTIST", "ALBUM_ARTIST"),
        "track": ("TRACKNUMBER",),
        "tracktotal": ("TRACKTOTAL", "TOTALTRACKS"),
        "disc": ("DISCNUMBER",),
        "disctotal": ("DISCTOTAL", "TOTALDISCS"),
        "discsubtitle": ("DISCSUBTITLE",),
        "date": ("DATE", "YEAR"),
        "originaldate": ("ORIGINALDATE", "ORIGINALYEAR"),
        "genre": ("GENRE",),
        "compilation": ("COMPILATION",),
        "mb_recording": ("MUSICBRAINZ_TRACKID",),
        "mb_releasetrack": ("MUSICBRAINZ_RELEASETRACKID",),
        "mb_release": ("MUSICBRAINZ_ALBUMID",),
        "mb_releasegroup": ("MUSICBRAINZ_RELEASEGROUPID",),
        "mb_artist": ("MUSICBRAINZ_ARTISTID",),
        "mb_albumartist": ("MUSICBRAINZ_ALBUMARTISTID",),
        "rg_track_gain": ("REPLAYGAIN_TRACK_GAIN",),
        "rg_track_peak": ("REPLAYGAIN_TRACK_PEAK",),
        "rg_album_gain": ("REPLAYGAIN_ALBUM_GAIN",),
        "rg_album_peak": ("REPLAYGAIN_ALBUM_PEAK",),
        "r128_track_gain": ("R128_TRACK_GAIN",),
        "r128_album_gain": ("R128_ALBUM_GAIN",),
        "isrc": ("ISRC",),
        "bpm": ("BPM",),
        "explicit": ("ITUNESADVISORY",),
        "lyrics": ("LYRICS", "UNSYNCEDLYRICS"),
        "comment": ("COMMENT", "DESCRIPTION"),
    },
    "mp4": {
        "title": ("©nam",),
        "artist": ("©ART",),
        "artists": (_ITUNES + "ARTISTS",),
        "album": ("©alb",),
        "albumartist": ("aART",),
        "track": ("trkn",),
        "disc": ("disk",),
        "discsubtitle": (_ITUNES + "DISCSUBTITLE",),
        "date": ("©day",),
        "originaldate": (_ITUNES + "ORIGINALDATE",),
        "genre": ("©gen", "gnre"),
        "compilation": ("cpil",),
        "mb_recording": (_ITUNES + "MusicBrainz Track Id",),
        "mb_releasetrack": (_ITUNES + "MusicBrainz Release Track Id",),
        "mb_release": (_ITUNES + "MusicBrainz Album Id",),
        "mb_releasegroup": (_ITUNES + "MusicBrainz Release Group Id",),
        "mb_artist": (_ITUNES + "MusicBrainz Artist Id",),
        "mb_albumartist": (_ITUNES + "MusicBrainz Album Artist Id",),
        "rg_track_gain": (_ITUNES + "replaygain_track_gain",),
        "rg_track_peak": (_ITUNES + "replaygain_track_peak",),
        "rg_album_gain": (_ITUNES + "replaygain_album_gain",),
        "rg_album_peak": (_ITUNES + "replaygain_album_peak",),
        "isrc": (_ITUNES + "ISRC",),
        "bpm": ("tmpo",),
        "explicit": ("rtng",),
        "lyrics": ("©lyr",),
        "comment": ("©cmt",),
    },
    "ape": {
        "title": ("Title",),
        "artist": ("Artist",),
        "artists": ("Artists",),
        "album": ("Album",),
        "albumartist": ("Album Artist", "AlbumArtist", "ALBUM_ARTIST"),
        "track": ("Track", "TrackNumber"),
        "disc": ("Disc", "DiscNumber"),
        "discsubtitle": ("DiscSubtitle",),
        "date": ("Year", "Date"),
        "originaldate": ("OriginalDate", "OriginalYear"),
        "genre": ("Genre",),
        "compilation": ("Compilation",),
        "mb_recording": ("MUSICBRAINZ_TRACKID",),
        "mb_releasetrack": ("MUSICBRAINZ_RELEASETRACKID",),
        "mb_release": ("MUSICBRAINZ_ALBUMID",),
        "mb_releasegroup": ("MUSICBRAINZ_RELEASEGROUPID",),
        "mb_artist": ("MUSICBRAINZ_ARTISTID",),
        "mb_albumartist": ("MUSICBRAINZ_ALBUMARTISTID",),
        "rg_track_gain": ("REPLAYGAIN_TRACK_GAIN",),
        "rg_track_peak": ("REPLAYGAIN_TRACK_PEAK",),
        "rg_album_gain": ("REPLAYGAIN_ALBUM_GAIN",),
        "rg_album_peak": ("REPLAYGAIN_ALBUM_PEAK",),
        "isrc": ("ISRC",),
        "bpm": ("BPM",),
        "explicit": ("iTunesAdvisory",),
        "lyrics": ("Lyrics", "UnsyncedLyrics"),
        "comment": ("Comment",),
    },
    "asf": {
        "title": ("Title",),
        "artist": ("Author", "WM/Artist"),
        "artists": ("WM/ARTISTS",),
        "album": ("WM/AlbumTitle",),
        "albumartist": ("WM/AlbumArtist",),
        "track": ("WM/TrackNumber", "WM/Track"),
        "disc": ("WM/PartOfSet",),
        "discsubtitle": ("WM/SetSubTitle",),
        "date": ("WM/Year", "date"),  # ffmpeg writes a plain "date"
        "originaldate": ("WM/OriginalReleaseTime", "WM/OriginalReleaseYear"),
        "genre": ("WM/Genre",),
        "compilation": ("WM/IsCompilation", "Compilation"),
        "mb_recording": ("MusicBrainz/Track Id",),
        "mb_releasetrack": ("MusicBrainz/Release Track Id",),
        "mb_release": ("MusicBrainz/Album Id",),
        "mb_releasegroup": ("MusicBrainz/Release Group Id",),
        "mb_artist": ("MusicBrainz/Artist Id",),
        "mb_albumartist": ("MusicBrainz/Album Artist Id",),
        "rg_track_gain": ("REPLAYGAIN_TRACK_GAIN",),
        "rg_track_peak": ("REPLAYGAIN_TRACK_PEAK",),
        "rg_album_gain": ("REPLAYGAIN_ALBUM_GAIN",),
        "rg_album_peak": ("REPLAYGAIN_ALBUM_PEAK",),
        "isrc": ("WM/ISRC",),
        "bpm": ("WM/BeatsPerMinute",),
        "lyrics": ("WM/Lyrics",),
        "comment": ("Description",),
    },
    # RIFF INFO chunk of WAV files without an ID3 chunk (what ffmpeg and most rippers write).
    "riff": {
        "title": ("INAM",),
        "artist": ("IART",),
        "album": ("IPRD",),
        "track": ("IPRT", "ITRK"),
        "date": ("ICRD",),
        "genre": ("IGNR",),
        "comment": ("ICMT",),
    },
}

# Each family's raw key -> the names it is an alias of, with its rank among that name's aliases.
_ALIAS_NAMES: dict[str, dict[str, list[tuple[str, int]]]] = {
    family: {
        key: [(name, rank) for name, keys in names.items() for rank, alias in enumerate(keys) if alias.upper() == key]
        for key in {alias.upper() for keys in names.values() for alias in keys}
    }
    for family, names in ALIASES.items()
}

# codec -> (content type, lossless)
_CODECS: dict[str, tuple[str, bool]] = {
    "mp3": ("audio/mpeg", False),
    "flac": ("audio/flac", True),
    "vorbis": ("audio/ogg", False),
    "opus": ("audio/ogg", False),
    "aac": ("audio/mp4", False),
    "alac": ("audio/mp4", True),
    "pcm": ("audio/wav", True),
    "wma": ("audio/x-ms-wma", False),
    "wavpack": ("audio/x-wavpack", True),
    "ape": ("audio/x-ape", True),
    "mpc": ("audio/x-musepack", False),
    "tta": ("audio/x-tta", True),
    "speex": ("audio/ogg", False),
}
# Content type by suffix where the container, not the codec, decides it.
_SUFFIX_CONTENT_TYPES = {"aiff": "audio/aiff", "aif": "audio/aiff", "aifc": "audio/aiff", "wav": "audio/wav"}
# Suffixes the scanner treats as audio; anything else is not even opened.
# (.mp4 and .asf are left out on purpose: in a music folder they are usually videos.)
AUDIO_SUFFIXES = frozenset(
    {"mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "aac", "wav", "aif", "aiff", "aifc", "wma"}
    | {"ape", "wv", "mpc", "tta", "ofr", "spx"}
)

_FEAT = re.compile(r"\s+(?:feat\.?|ft\.|featuring)\s+", re.IGNORECASE)
_DATE = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")
_NUMBER = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d+))?")
_SMALLINT_MAX = 32767


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
class _NamedBytes(io.BytesIO):
    """File contents already in memory, named like the file so mutagen can still go by the suffix."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


# The common formats, when the suffix and the first bytes agree: the class mutagen.File would pick after scoring
# every format it knows, which a small file's parse pays for. Anything else is left to mutagen.File.
_PLAIN_KINDS: dict[str, tuple[Callable[[bytes], bool], type[mutagen.FileType]]] = {
    ".mp3": (lambda head: head.startswith(b"ID3"), MP3),
    ".flac": (lambda head: head.startswith(b"fLaC"), FLAC),
    ".m4a": (lambda head: head[4:8] == b"ftyp", MP4),
    ".ogg": (lambda head: head.startswith(b"OggS") and b"\x01vorbis" in head[:64], OggVorbis),
    ".opus": (lambda head: head.startswith(b"OggS") and b"OpusHead" in head[:64], OggOpus),
}


def _open_audio(path: Path, data: bytes | None) -> mutagen.FileType | None:
    if data is None:
        return mutagen.File(path)
    plain = _PLAIN_KINDS.get(path.suffix.lower())
    if plain is not None and plain[0](data[:64]):
        return plain[1](_NamedBytes(data, str(path)))
    return mutagen.File(_NamedBytes(data, str(path)))


def read_tags(path: Path, *, data: bytes | None = None) -> TrackTags:
    """Tags and stream properties of the audio file at `path`; `UnreadableAudioError` when it is not one.

    `data`: the file's bytes when the caller has read them already (the importer hashes and copies them too):
    parsing from memory spares mutagen's many small reads and seeks on the file."""
    try:
        size = path.stat().st_size if data is None else len(data)
    except OSError as exc:
        raise UnreadableAudioError(f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise UnreadableAudioError("the file is empty (0 bytes)")
    try:
        audio = _open_audio(path, data)
    except (OSError, PermissionError) as exc:
        raise UnreadableAudioError(f"cannot read the file: {exc.strerror or exc}") from exc
    except Exception as exc:  # mutagen raises many types, some of them bugs, on hostile files
        raise UnreadableAudioError(f"not readable as audio (truncated or corrupt): {exc}") from exc
    if audio is None or getattr(audio, "info", None) is None:
        raise UnreadableAudioError("not an audio format mcma can read")
    length = float(getattr(audio.info, "length", 0) or 0)
    if length <= 0:
        raise UnreadableAudioError("no audio in the file (zero duration; truncated?)")
    try:
        family, raw, cover, sylt = _flatten(audio, path)
        return _build(audio, path, size, length, raw, cover, sylt, family)
    except UnreadableAudioError:
        raise
    except Exception as exc:  # a malformed frame must not crash a scan
        raise UnreadableAudioError(f"corrupt tags: {exc}") from exc


_Raw = dict[str, list[str]]
_Cover = tuple[bytes, str] | None


def _flatten(audio: Any, path: Path) -> tuple[str, _Raw, _Cover, str]:
    """(family, {UPPER KEY: [text values]}, cover, synced lyrics as LRC) of any supported file."""
    tags = audio.tags
    if isinstance(tags, ID3):
        raw, cover, sylt = _flatten_id3(tags)
        return "id3", raw, cover, sylt
    if isinstance(audio, MP4):
        raw, cover = _flatten_mp4(tags)
        return "mp4", raw, cover, ""
    if isinstance(audio, ASF):
        raw, cover = _flatten_asf(tags)
        return "asf", raw, cover, ""
    if isinstance(tags, APEv2):
        raw, cover = _flatten_ape(tags)
        return "ape", raw, cover, ""
    if isinstance(audio, WAVE):
        return "riff", _read_riff_info(path), None, ""
    if tags is not None and hasattr(tags, "__iter__") and hasattr(audio, "info"):
        raw = defaultdict(list)
        for key, value in tags:  # Vorbis comments: a list of (key, value) pairs
            raw[str(key).upper()].append(str(value))
        return "vorbis", dict(raw), _vorbis_cover(audio, raw), ""
    return "vorbis", {}, None, ""


def _flatten_id3(tags: ID3) -> tuple[_Raw, _Cover, str]:
    raw: _Raw = defaultdict(list)
    covers: list[tuple[int, bytes, str]] = []
    sylt = ""
    frame: Any  # mutagen builds frame attributes at runtime from each frame's spec
    for frame in tags.values():
        frame_id = frame.FrameID
        if frame_id == "TXXX":
            raw[f"TXXX:{frame.desc.upper()}"].extend(str(t) for t in frame.text)
        elif frame_id == "UFID":
            raw[f"UFID:{frame.owner.upper()}"].append(frame.data.decode("utf-8", "replace"))
        elif frame_id == "USLT":
            raw["USLT"].append(str(frame.text))
        elif frame_id == "COMM":
            if not frame.desc or frame.desc.lower() == "description":  # iTunNORM & co. are machine data
                raw["COMM"].extend(str(t) for t in frame.text)
        elif frame_id == "SYLT":
            sylt = sylt or _sylt_to_lrc(frame)
        elif frame_id == "APIC":
            covers.append((0 if frame.type == 3 else 1, bytes(frame.data), frame.mime))
        elif hasattr(frame, "text"):
            raw[frame_id].extend(str(t) for t in frame.text)
    covers.sort(key=lambda c: c[0])
    cover = (covers[0][1], _image_mime(covers[0][1], covers[0][2])) if covers else None
    return dict(raw), cover, sylt


def _flatten_mp4(tags: Any) -> tuple[_Raw, _Cover]:
    raw: _Raw = defaultdict(list)
    cover: _Cover = None
    for key, stored in (tags or {}).items():
        upper = key.upper()
        values = stored if isinstance(stored, list) else [stored]  # cpil and pgap are bare booleans
        if upper == "COVR":
            if values and cover is None:
                data = bytes(values[0])
                fmt = getattr(values[0], "imageformat", None)
                cover = (data, "image/png" if fmt == MP4Cover.FORMAT_PNG else _image_mime(data, "image/jpeg"))
            continue
        for value in values:
            if isinstance(value, tuple):  # trkn/disk: (number, total)
                number, total = [*value, 0, 0][:2]
                raw[upper].append(f"{number}/{total}" if total else str(number))
            elif isinstance(value, bytes | MP4FreeForm):
                raw[upper].append(bytes(value).decode("utf-8", "replace"))
            elif isinstance(value, bool):
                raw[upper].append("1" if value else "0")
            else:
                raw[upper].append(str(value))
    return dict(raw), cover


def _flatten_asf(tags: Any) -> tuple[_Raw, _Cover]:
    raw: _Raw = defaultdict(list)
    cover: _Cover = None
    for key, values in (tags or {}).items():
        upper = str(key).upper()
        for value in values:
            if upper == "WM/PICTURE" and isinstance(value, ASFByteArrayAttribute):
                cover = cover or _asf_picture(bytes(value.value or b""))
            elif isinstance(value.value, bool):
                raw[upper].append("1" if value.value else "0")
            elif not isinstance(value.value, bytes):
                raw[upper].append(str(value.value))
    return dict(raw), cover


def _asf_picture(blob: bytes) -> _Cover:
    """WM/Picture: type (1 byte), size (u32 LE), mime and description (UTF-16LE, NUL-ended), then the image."""
    try:
        size = struct.unpack_from("<I", blob, 1)[0]
        pos = 5
        parts: list[str] = []
        for _ in range(2):
            end = pos
            while blob[end : end + 2] != b"\x00\x00":
                end += 2
            parts.append(blob[pos:end].decode("utf-16-le"))
            pos = end + 2
        data = blob[pos : pos + size]
    except (struct.error, IndexError, UnicodeDecodeError):
        return None
    return (data, _image_mime(data, parts[0])) if data else None


def _flatten_ape(tags: APEv2) -> tuple[_Raw, _Cover]:
    raw: _Raw = defaultdict(list)
    cover: _Cover = None
    for key, value in tags.items():
        upper = str(key).upper()
        if value.kind == 1:  # binary
            if upper.startswith("COVER ART") and cover is None:
                blob = bytes(value.value)
                _name, _sep, data = blob.partition(b"\x00")
                cover = (data, _image_mime(data, "image/jpeg")) if data else None
        elif value.kind == 0:  # text, NUL-separated values
            raw[upper].extend(str(v) for v in value)
    return dict(raw), cover


def _vorbis_cover(audio: Any, raw: Mapping[str, list[str]]) -> _Cover:
    pictures: list[Any] = list(getattr(audio, "pictures", []) or [])
    for encoded in raw.get("METADATA_BLOCK_PICTURE", []):
        try:
            pictures.append(Picture(base64.b64decode(encoded)))
        except Exception:  # noqa: S112 - a broken picture block is not a broken track
            continue
    if not pictures:
        return None
    best = min(pictures, key=lambda p: 0 if p.type == 3 else 1)
    return bytes(best.data), _image_mime(bytes(best.data), best.mime)


def _read_riff_info(path: Path) -> _Raw:
    """The LIST/INFO chunk of a RIFF WAVE file (mutagen reads only ID3 chunks there)."""
    raw: _Raw = {}
    with path.open("rb") as fh:
        header = fh.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return raw
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return raw
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"LIST" and size >= 4 and size < 1 << 20:
                body = fh.read(size)
                if body[:4] == b"INFO":
                    pos = 4
                    while pos + 8 <= len(body):
                        sub_id = body[pos : pos + 4].decode("latin-1").upper()
                        sub_size = struct.unpack("<I", body[pos + 4 : pos + 8])[0]
                        text = body[pos + 8 : pos + 8 + sub_size].split(b"\x00", 1)[0]
                        raw[sub_id] = [text.decode("utf-8", "replace")]
                        pos += 8 + sub_size + (sub_size & 1)
                    return raw
            else:
                fh.seek(size + (size & 1), 1)


def _sylt_to_lrc(frame: Any) -> str:
    lines = []
    for text, ms in frame.text:
        if frame.format == 2:  # milliseconds (format 1 is MPEG frames, which we cannot place)
            minutes, rest = divmod(int(ms), 60_000)
            lines.append(f"[{minutes:02d}:{rest / 1000:05.2f}]{_clean_text(str(text), multiline=False)}")
    return "\n".join(lines)


def _build(
    audio: Any, path: Path, size: int, length: float, raw: _Raw, cover: _Cover, sylt: str, family: str
) -> TrackTags:
    # One pass over the file's keys (a dozen or so) rather than one lookup per alias of each of ~30 names.
    chosen: dict[str, tuple[int, list[str]]] = {}  # name -> (rank of the alias that gave it, values)
    for key, raw_values in raw.items():
        for name, rank in _ALIAS_NAMES[family].get(key, ()):
            if name in chosen and chosen[name][0] < rank:
                continue
            found = _clean_values(raw_values, multiline=name in _MULTILINE_FIELDS)
            if found:
                # Some writers store one value twice (ffmpeg's ASF Author): a repeat is never a second credit.
                chosen[name] = (rank, list(dict.fromkeys(found)))

    def values(name: str) -> list[str]:
        """The values of the first of `name`'s aliases (ALIASES order) that has any."""
        return chosen[name][1] if name in chosen else []

    def first(name: str) -> str:
        return chosen[name][1][0] if name in chosen else ""

    artist_values = values("artist")
    artists, featured = _credited_artists(artist_values, values("artists"))
    track_number, track_total = _number_pair(first("track"))
    disc_number, disc_total = _number_pair(first("disc"))
    date, year = _parse_date(first("date"))
    _original, original_year = _parse_date(first("originaldate"))
    lyrics_text = "\n".join(values("lyrics"))
    synced = sylt or (lyrics_text if is_synced(lyrics_text) else "")
    if synced and (not lyrics_text or lyrics_text == synced):
        lyrics_text = plain_text(synced)
    codec = _codec(audio, path)
    lossless = _CODECS.get(codec, ("", False))[1]
    suffix = path.suffix.lower().lstrip(".")
    info = audio.info
    bitrate = int(getattr(info, "bitrate", 0) or 0) // 1000 or int(size * 8 / length / 1000)
    skipped: dict[str, str] = {}
    track_gain = _gain(first("rg_track_gain"), "replaygain_track_gain", skipped)
    album_gain = _gain(first("rg_album_gain"), "replaygain_album_gain", skipped)
    if track_gain is None and (r128 := _r128(first("r128_track_gain"))) is not None:
        track_gain = r128
    if album_gain is None and (r128 := _r128(first("r128_album_gain"))) is not None:
        album_gain = r128
    return TrackTags(
        title=first("title") or _clean_text(path.stem, multiline=False),
        artists=tuple(artists),
        featured_artists=tuple(featured),
        artist_display="; ".join(artist_values) if artist_values else ", ".join(artists),
        album=first("album"),
        album_artist=first("albumartist"),
        track_number=track_number,
        track_total=track_total or _number_pair(first("tracktotal"))[0],
        disc_number=disc_number,
        disc_total=disc_total or _number_pair(first("disctotal"))[0],
        disc_subtitle=first("discsubtitle"),
        year=year,
        date=date,
        original_year=original_year,
        genres=tuple(_genres(values("genre"))),
        compilation=_truthy(first("compilation")),
        duration_ms=round(length * 1000),
        bitrate=min(bitrate, 2**31 - 1),
        # Opus always decodes at 48 kHz; its header's input rate is only a hint, and mutagen does not expose it.
        sample_rate=int(getattr(info, "sample_rate", 0) or 0) or (48000 if codec == "opus" else 0),
        bit_depth=(int(getattr(info, "bits_per_sample", 0) or 0) or None) if lossless else None,
        channels=int(getattr(info, "channels", 0) or 0),
        codec=codec,
        suffix=suffix,
        content_type=_SUFFIX_CONTENT_TYPES.get(suffix) or _CODECS.get(codec, ("application/octet-stream",))[0],
        musicbrainz_recording_id=_mbid(first("mb_recording")),
        musicbrainz_track_id=_mbid(first("mb_releasetrack")),
        musicbrainz_release_id=_mbid(first("mb_release")),
        musicbrainz_release_group_id=_mbid(first("mb_releasegroup")),
        musicbrainz_artist_id=_mbid(first("mb_artist")),
        musicbrainz_album_artist_id=_mbid(first("mb_albumartist")),
        isrc=first("isrc")[:15],
        replaygain_track_gain=track_gain,
        replaygain_track_peak=_float(first("rg_track_peak")),
        replaygain_album_gain=album_gain,
        replaygain_album_peak=_float(first("rg_album_peak")),
        replaygain_base_gain=_opus_output_gain(path) if codec == "opus" else None,
        bpm=_small_int(first("bpm")),
        lyrics=lyrics_text,
        synced_lyrics=synced,
        comment="\n".join(values("comment")),
        explicit=_explicit(first("explicit")),
        cover=cover[0] if cover else None,
        cover_mime=cover[1] if cover else "",
        skipped=skipped,
    )


def _codec(audio: Any, path: Path) -> str:
    if isinstance(audio, MP4):
        name = str(getattr(audio.info, "codec", "")).lower()
        return "alac" if name.startswith("alac") else "aac" if name.startswith("mp4a") else name or "aac"
    if isinstance(audio, WAVE | AIFF):
        return "pcm"
    if isinstance(audio, ASF):
        return "wma"
    codec = next((name for kind, name in _CODEC_OF_KIND if isinstance(audio, kind)), "")
    return codec or path.suffix.lower().lstrip(".") or "unknown"


_CODEC_OF_KIND: tuple[tuple[type[mutagen.FileType], str], ...] = (
    (MP3, "mp3"),  # EasyMP3 too: a subclass
    (FLAC, "flac"),
    (OggFLAC, "flac"),
    (OggVorbis, "vorbis"),
    (OggOpus, "opus"),
    (OggSpeex, "speex"),
    (WavPack, "wavpack"),
    (MonkeysAudio, "ape"),
    (Musepack, "mpc"),
    (TrueAudio, "tta"),
    (AAC, "aac"),
)


def _credited_artists(artist_values: list[str], artists_tag: list[str]) -> tuple[list[str], list[str]]:
    """(every credited artist, primary first; the featured ones). "&" and "/" stay inside one name."""
    if artists_tag:
        credited = list(artists_tag)
    elif len(artist_values) > 1:
        credited = list(artist_values)
    elif artist_values:
        credited = [part.strip() for part in _FEAT.split(artist_values[0]) if part.strip()]
    else:
        credited = []
    unique = list(dict.fromkeys(credited))
    return unique, unique[1:]


def _number_pair(text: str) -> tuple[int | None, int | None]:
    match = _NUMBER.match(text or "")
    if not match:
        return None, None
    number = int(match.group(1))
    total = int(match.group(2)) if match.group(2) else None
    return (number if 0 < number <= _SMALLINT_MAX else None), (total if total and total <= _SMALLINT_MAX else None)


def _parse_date(text: str) -> tuple[str, int | None]:
    match = _DATE.match(text or "")
    if not match:
        return "", None
    year = int(match.group(1))
    if not 1 <= year <= 9999:
        return "", None
    date = f"{year:04d}"
    month, day = match.group(2), match.group(3)
    if month and 1 <= int(month) <= 12:
        date += f"-{int(month):02d}"
        if day and 1 <= int(day) <= 31:
            date += f"-{int(day):02d}"
    return date, year


# Compiled once: each file's tags go through these a dozen times, mostly with empty values.
_GENRE_SEPARATOR = re.compile(r"\s*;\s*")
_NUMERIC_GENRE = re.compile(r"\(?\d+\)?")
_LEADING_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")
_INTEGER = re.compile(r"\s*([-+]?\d+)\s*")
_IMAGE_MIME = re.compile(r"image/[a-z0-9.+-]{1,60}")  # a declared type, kept only when it is one
_MBID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# Fields whose text may span lines; everywhere else a line break or tab becomes a space.
_MULTILINE_FIELDS = frozenset({"lyrics", "comment"})
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # C0 without tab, LF and CR


def _clean_values(raw_values: Iterable[str], *, multiline: bool) -> list[str]:
    """The non-empty values, stripped and without control characters, which no name or title means and which
    PostgreSQL (NUL), XML 1.0 (all of C0 but tab, LF, CR) and file names cannot carry. NUL separates values, as
    in ID3v2.4 and APEv2 (mutagen already splits those), so a NUL-joined Vorbis or MP4 value reads the same."""
    found = []
    for value in raw_values:
        stripped = value.strip()
        if not stripped:
            continue
        if stripped.isprintable():  # nearly every value: no control character to look for
            found.append(stripped)
            continue
        for part in stripped.split("\x00"):
            if cleaned := _clean_text(part, multiline=multiline):
                found.append(cleaned)
    return found


def _clean_text(text: str, *, multiline: bool) -> str:
    if not multiline:
        text = _LINE_BREAKS.sub(" ", text)
    return _CONTROLS.sub("", text).strip()


def _genres(values: Iterable[str]) -> list[str]:
    result: list[str] = []
    for value in values:
        # ID3v1-style numeric genres, "(17)" or "17", are resolved by mutagen for TCON; drop leftovers.
        for part in _GENRE_SEPARATOR.split(value):
            name = part.strip()
            if name and not _NUMERIC_GENRE.fullmatch(name) and name not in result:
                result.append(name[:255])
    return result


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "y"}


def _explicit(text: str) -> bool | None:
    if not text.strip():
        return None
    # iTunes advisory: 1 (or 4) explicit, 2 clean, 0 none.
    return text.strip() in {"1", "4"} or text.strip().lower() in {"explicit", "true", "yes"}


def _float(text: str) -> float | None:
    match = _LEADING_NUMBER.match(text) if text else None
    return float(match.group(1)) if match else None


# Beyond any real recording's ReplayGain (silence measures about +50 dB): a value outside is a broken tagger's.
GAIN_LIMIT_DB = 64.0


def _gain(text: str, name: str, skipped: dict[str, str]) -> float | None:
    value = _float(text)
    if value is None:
        if text.strip():
            skipped[name] = f"the tag {text.strip()[:40]!r} is not a number of dB"
        return None
    if not -GAIN_LIMIT_DB <= value <= GAIN_LIMIT_DB:
        skipped[name] = f"{value:+.2f} dB is outside ±{GAIN_LIMIT_DB:.0f} dB, so not a real ReplayGain"
        return None
    return value


def _opus_output_gain(path: Path) -> float | None:
    """The output gain of an Ogg Opus file's identification header (RFC 7845 5.1: a signed Q7.8 dB at bytes 16-17
    of "OpusHead", which alone fills the first page); mutagen reads it but does not expose it."""
    try:
        with path.open("rb") as file:
            page = file.read(27 + 255 + 19)
    except OSError:
        return None
    if len(page) < 27 or page[:4] != b"OggS":
        return None
    head = page[27 + page[26] :]
    if len(head) < 19 or head[:8] != b"OpusHead":
        return None
    return round(int.from_bytes(head[16:18], "little", signed=True) / 256, 2)


def _r128(text: str) -> float | None:
    """Opus R128 gain (Q7.8 dB relative to -23 LUFS) as a ReplayGain value (reference -18 LUFS)."""
    match = _INTEGER.fullmatch(text) if text else None
    return round(int(match.group(1)) / 256 + 5.0, 2) if match else None


def _small_int(text: str) -> int | None:
    value = _float(text)
    return int(value) if value is not None and 0 < value <= _SMALLINT_MAX else None


def _mbid(text: str) -> str:
    if not text:
        return ""
    text = text.strip().lower()
    return text if text and _MBID.fullmatch(text) else ""


def _image_mime(data: bytes, declared: str = "") -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    declared = (declared or "").lower()
    if declared in {"jpg", "jpeg"}:
        return "image/jpeg"
    if declared == "png":
        return "image/png"
    return declared if _IMAGE_MIME.fullmatch(declared) else "image/jpeg"


def image_mime(data: bytes) -> str:
    """The MIME type of an image by its magic bytes ("" when it is not a JPEG, PNG, GIF or WebP)."""
    mime = _image_mime(data, "")
    return mime if mime != "image/jpeg" or data.startswith(b"\xff\xd8\xff") else ""


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def write_tags(path: Path, tags: TrackTags, *, cover: bytes | None, cover_mime: str | None) -> None:
    """Replace the tags of the audio file at `path` with `tags` (stream properties are ignored).

    Writes in place; callers that need atomicity write to a temp copy and move it (library.storage).
    """
    try:
        audio = mutagen.File(path)
    except Exception as exc:  # same contract as read_tags
        raise UnreadableAudioError(f"not readable as audio: {exc}") from exc
    if audio is None:
        raise UnreadableAudioError("not an audio format mcma can write tags to")
    fields = _neutral_fields(tags)
    mime = cover_mime or (_image_mime(cover) if cover else "")
    try:
        if isinstance(audio, MP4):
            _write_mp4(audio, fields, cover, mime)
        elif isinstance(audio, ASF):
            _write_asf(audio, fields)
        elif isinstance(audio, FLAC | OggVorbis | OggOpus | OggFLAC | OggSpeex):
            _write_vorbis(audio, fields, cover, mime)
        elif isinstance(audio, APEv2File):  # WavPack, Monkey's Audio and Musepack too: subclasses
            _write_ape(audio, fields, cover, mime)
        elif isinstance(audio, ID3FileType | WAVE | AIFF):  # MP3 too
            _write_id3(audio, fields, tags, cover, mime)
        else:
            raise UnreadableAudioError(f"writing tags to {type(audio).__name__} files is not supported")
    except UnreadableAudioError:
        raise
    except Exception as exc:  # surface as one error type
        raise UnreadableAudioError(f"cannot write tags: {exc}") from exc


def _neutral_fields(tags: TrackTags) -> dict[str, list[str]]:
    artists = list(tags.artists)
    display = tags.artist_display or (
        f"{artists[0]} feat. {', '.join(artists[1:])}" if len(artists) > 1 else (artists[0] if artists else "")
    )
    fields: dict[str, list[str]] = {
        "title": [tags.title],
        "artist": [display],
        "artists": artists if len(artists) > 1 else [],
        "album": [tags.album],
        "albumartist": [tags.album_artist],
        "track": [_pair(tags.track_number, tags.track_total)],
        "disc": [_pair(tags.disc_number, tags.disc_total)],
        "discsubtitle": [tags.disc_subtitle],
        "date": [tags.date or (str(tags.year) if tags.year else "")],
        "originaldate": [str(tags.original_year) if tags.original_year else ""],
        "genre": list(tags.genres),
        "compilation": ["1" if tags.compilation else ""],
        "mb_recording": [tags.musicbrainz_recording_id],
        "mb_releasetrack": [tags.musicbrainz_track_id],
        "mb_release": [tags.musicbrainz_release_id],
        "mb_releasegroup": [tags.musicbrainz_release_group_id],
        "mb_artist": [tags.musicbrainz_artist_id],
        "mb_albumartist": [tags.musicbrainz_album_artist_id],
        "rg_track_gain": [f"{tags.replaygain_track_gain:+.2f} dB" if tags.replaygain_track_gain is not None else ""],
        "rg_track_peak": [f"{tags.replaygain_track_peak:.6f}" if tags.replaygain_track_peak is not None else ""],
        "rg_album_gain": [f"{tags.replaygain_album_gain:+.2f} dB" if tags.replaygain_album_gain is not None else ""],
        "rg_album_peak": [f"{tags.replaygain_album_peak:.6f}" if tags.replaygain_album_peak is not None else ""],
        "isrc": [tags.isrc],
        "bpm": [str(tags.bpm) if tags.bpm else ""],
        "explicit": ["" if tags.explicit is None else "1" if tags.explicit else "2"],
        "lyrics": [tags.synced_lyrics or tags.lyrics],
        "comment": [tags.comment],
    }
    return {key: [v for v in values if v] for key, values in fields.items() if any(values)}


def _pair(number: int | None, total: int | None) -> str:
    if not number:
        return ""
    return f"{number}/{total}" if total else str(number)


def _write_vorbis(audio: Any, fields: dict[str, list[str]], cover: bytes | None, mime: str) -> None:
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    aliases = ALIASES["vorbis"]
    for name, values in fields.items():
        if name in ("track", "disc"):
            number, _sep, total = values[0].partition("/")
            audio.tags[aliases[name][0]] = number
            if total:
                audio.tags[aliases[f"{name}total"][0]] = total
        elif name in aliases:
            audio.tags[aliases[name][0]] = values
    if cover:
        picture = _flac_picture(cover, mime)
        if isinstance(audio, FLAC):
            audio.clear_pictures()
            audio.add_picture(picture)
        else:
            audio.tags["METADATA_BLOCK_PICTURE"] = base64.b64encode(picture.write()).decode("ascii")
    audio.save()


def _flac_picture(cover: bytes, mime: str) -> Picture:
    picture = Picture()
    picture.type = 3
    picture.mime = mime
    picture.desc = "Cover"
    picture.data = cover
    return picture


def _write_mp4(audio: MP4, fields: dict[str, list[str]], cover: bytes | None, mime: str) -> None:
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    audio.tags.clear()
    for name, values in fields.items():
        atom = ALIASES["mp4"].get(name, ("",))[0]
        if not atom:
            continue
        key = atom
        if name in ("track", "disc"):
            number, _sep, total = values[0].partition("/")
            audio.tags[key] = [(int(number), int(total or 0))]
        elif name == "compilation":
            audio.tags[key] = True
        elif name in ("bpm", "explicit"):
            audio.tags[key] = [int(values[0])]
        elif key.startswith("----:"):
            audio.tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in values]
        else:
            audio.tags[key] = values
    if cover:
        fmt = MP4Cover.FORMAT_PNG if mime == "image/png" else MP4Cover.FORMAT_JPEG
        audio.tags["covr"] = [MP4Cover(cover, imageformat=fmt)]
    audio.save()


def _write_ape(audio: Any, fields: dict[str, list[str]], cover: bytes | None, mime: str) -> None:
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    for name, values in fields.items():
        key = ALIASES["ape"].get(name, ("",))[0]
        if key:
            audio.tags[key] = values
    if cover:
        ext = "png" if mime == "image/png" else "jpg"
        audio.tags["Cover Art (Front)"] = APEValue(f"cover.{ext}".encode() + b"\x00" + cover, 1)
    audio.save()


def _write_asf(audio: Any, fields: dict[str, list[str]]) -> None:
    audio.tags.clear()
    for name, values in fields.items():
        key = ALIASES["asf"].get(name, ("",))[0]
        if not key:
            continue
        if name == "track":
            values = [values[0].partition("/")[0]]
        audio.tags[key] = values
    audio.save()


def _write_id3(audio: Any, fields: dict[str, list[str]], tags: TrackTags, cover: bytes | None, mime: str) -> None:
    if audio.tags is None:
        audio.add_tags()
    id3: ID3 = audio.tags
    id3.clear()
    for name, values in fields.items():
        key = ALIASES["id3"].get(name, ("",))[0]
        if not key:
            continue
        if key.startswith("TXXX:"):
            id3.add(TXXX(encoding=3, desc=key[5:], text=values))
        elif key.startswith("UFID:"):
            id3.add(UFID(owner=key[5:], data=values[0].encode()))
        elif key == "USLT":
            id3.add(USLT(encoding=3, lang="eng", desc="", text=tags.lyrics or plain_text(values[0])))
        elif key == "COMM":
            id3.add(COMM(encoding=3, lang="eng", desc="", text=values))
        else:
            id3.add(Frames[key](encoding=3, text=values))
    if cover:
        id3.add(APIC(encoding=3, mime=mime, type=3, desc="Cover", data=cover))
    audio.save(v2_version=4)
