"""Transcoding benchmark: time to first byte, real-time factor and CPU per minute of audio, through `stream` and
the OpenSubsonic `getTranscodeDecision` + `getTranscodeStream`.

    .venv/bin/python bench/transcode_bench.py [--seconds 180] [--concurrent 8]

Generates real audio with ffmpeg (a FLAC and a 320 kb/s MP3), stores it as library tracks in a throw-away SQLite
database, and asks the Subsonic endpoints (Django's test client: the view, ffmpeg and the streaming response as
served) for flac→mp3 192, flac→opus 128 and mp3 320→opus 96 through `stream`; then times a transcode decision
(a Symfonium-like ClientInfo) and streams what it decided, fresh, again (cached) and from an offset; then N opus
transcodes at once. Targets: a fresh transcode's first byte < 300 ms; a cache hit (the same transcode again) as
fast as a raw stream; N concurrent opus transcodes each faster than real time.
CPU is ffmpeg's (children's rusage). Not a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from subsonic_bench import setup_django


def _make_audio(folder: Path, seconds: float) -> dict[str, Path]:
    source = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
    source += ["-i", f"sine=frequency=440:duration={seconds}:sample_rate=44100", "-ac", "2"]
    files = {"flac": folder / "song.flac", "mp3": folder / "song.mp3"}
    subprocess.run([*source, "-c:a", "flac", str(files["flac"])], check=True, timeout=600)
    subprocess.run([*source, "-c:a", "libmp3lame", "-b:a", "320k", str(files["mp3"])], check=True, timeout=600)
    return files


# What a phone player limited to 48 kHz, 16-bit stereo sends: mp3 plays directly, FLAC is transcoded to opus.
CLIENT_INFO = {
    "name": "bench",
    "platform": "Android",
    "maxAudioBitrate": 320,
    "maxTranscodingAudioBitrate": 160,
    "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": ["http"]}],
    "transcodingProfiles": [{"container": "ogg", "audioCodec": "opus", "protocol": "http"}],
    "codecProfiles": [
        {
            "type": "AudioCodec",
            "name": "opus",
            "limitations": [
                {"name": "audioChannels", "comparison": "LessThanEqual", "values": ["2"], "required": True},
                {"name": "audioSamplerate", "comparison": "LessThanEqual", "values": ["48000"], "required": True},
            ],
        }
    ],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the generated songs")
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mcma-transcode-bench-") as scratch:
        setup_django(Path(scratch))
        from django.conf import settings
        from django.test import Client

        from accounts.models import User
        from accounts.services import subsonic_password_reveal
        from library.models import Album, Artist, Track

        settings.MCMA_CACHE_DIR = Path(scratch) / "cache"  # a cold transcode cache
        settings.TRANSCODE_MAX_PROCESSES = args.concurrent
        settings.TRANSCODE_MAX_PER_USER = args.concurrent
        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        files = _make_audio(media, args.seconds)
        artist = Artist.objects.create(name="Bench", name_key="bench", sort_name="bench")
        album = Album.objects.create(name="Bench", name_key="bench", sort_name="bench", album_artist=artist)
        tracks = {}
        for kind, path in files.items():
            tracks[kind] = Track.objects.create(
                source="local",
                source_id=path.name,
                title=kind,
                title_key=kind,
                artist=artist,
                artist_display="Bench",
                album=album,
                duration_ms=int(args.seconds * 1000),
                bitrate=320 if kind == "mp3" else 900,
                channels=2,
                sample_rate=44100,
                bit_depth=None if kind == "mp3" else 16,
                codec=kind,
                suffix=kind,
                content_type="audio/flac" if kind == "flac" else "audio/mpeg",
                path=path.name,
                size_bytes=path.stat().st_size,
            )
        user = User.objects.create_user(username="bench", password="bench-password-123")
        auth = {"u": "bench", "p": subsonic_password_reveal(user=user), "c": "bench", "v": "1.16.1"}

        def stream(track: Track, endpoint: str = "stream", **params: Any) -> tuple[float, float, int]:
            client = Client()
            started = time.perf_counter()
            song = (
                {"id": f"tr-{track.pk}"} if endpoint == "stream" else {"mediaId": f"tr-{track.pk}", "mediaType": "song"}
            )
            response = client.get(f"/rest/{endpoint}", {**song, **params, **auth})
            iterator = iter(response.streaming_content)  # type: ignore[attr-defined]
            size = len(next(iterator))
            first = time.perf_counter() - started
            for chunk in iterator:
                size += len(chunk)
            response.close()
            return first, time.perf_counter() - started, size

        def decide(track: Track) -> tuple[float, str]:
            query = urlencode({"mediaId": f"tr-{track.pk}", "mediaType": "song", "f": "json", **auth})
            started = time.perf_counter()
            response = Client().post(
                f"/rest/getTranscodeDecision?{query}", json.dumps(CLIENT_INFO), content_type="application/json"
            )
            elapsed = time.perf_counter() - started
            decision = json.loads(response.content)["subsonic-response"]["transcodeDecision"]
            return elapsed, decision["transcodeParams"]

        stream(tracks["mp3"], format="raw")  # the first request of a process pays for lazy imports: not measured
        decision_seconds = [decide(tracks["flac"])[0] for _ in range(20)]
        _elapsed, decided = decide(tracks["flac"])
        offset = int(args.seconds // 2)
        print(f"{args.seconds:.0f} s songs; real-time factor = song length / time to encode it all\n")
        for label, track, endpoint, query in (
            ("flac -> mp3 192", tracks["flac"], "stream", {"format": "mp3", "maxBitRate": 192}),
            ("flac -> mp3 192, cached", tracks["flac"], "stream", {"format": "mp3", "maxBitRate": 192}),
            ("flac -> opus 128", tracks["flac"], "stream", {"format": "opus", "maxBitRate": 128}),
            ("mp3 320 -> opus 96", tracks["mp3"], "stream", {"format": "opus", "maxBitRate": 96}),
            ("raw flac (no transcode)", tracks["flac"], "stream", {"format": "raw"}),
            ("decided opus 160", tracks["flac"], "getTranscodeStream", {"transcodeParams": decided}),
            ("decided opus 160, cached", tracks["flac"], "getTranscodeStream", {"transcodeParams": decided}),
            (
                f"decided opus 160, at {offset} s",
                tracks["flac"],
                "getTranscodeStream",
                {"transcodeParams": decided, "offset": offset},
            ),
        ):
            cpu_before = _children_cpu()
            first, total, size = stream(track, endpoint, **query)
            cpu = _children_cpu() - cpu_before
            print(
                f"{label:<28} first byte {first * 1000:6.1f} ms  whole {total:5.2f} s  "
                f"x{args.seconds / total:6.1f} real time  ffmpeg cpu {cpu * 60 / args.seconds:5.2f} s/min  "
                f"{size / 1e6:6.2f} MB"
            )
        print(
            f"\ngetTranscodeDecision (flac, Symfonium-like ClientInfo): median "
            f"{statistics.median(decision_seconds) * 1000:.1f} ms, max {max(decision_seconds) * 1000:.1f} ms "
            f"over {len(decision_seconds)}"
        )

        settings.TRANSCODE_CACHE_SIZE = 0  # N real transcodes at once, not N cache hits
        results: list[tuple[float, float, int]] = []
        lock = threading.Lock()

        def one() -> None:
            outcome = stream(tracks["flac"], format="opus", maxBitRate=128)
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=one) for _ in range(args.concurrent)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        slowest = max(total for _first, total, _size in results)
        print(
            f"\n{args.concurrent} concurrent flac -> opus 128: all done in {wall:.2f} s; slowest x"
            f"{args.seconds / slowest:.1f} real time; first bytes {min(r[0] for r in results) * 1000:.0f}-"
            f"{max(r[0] for r in results) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
