"""Identification: AcoustID fingerprints and MusicBrainz metadata for the library's tracks.

`acoustid.py` and `musicbrainz.py` are the only modules that talk to those services (over `library.remote`, which
holds the retry rule and the shared rate limit of `library.ratelimit`); `services.py` decides what a match changes on a
track and records it so that it can be reverted; `selectors.py` answers the dashboard's counts.
"""
