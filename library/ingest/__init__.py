"""Turning tags into library rows, shared by every source (local scan, downloads).

`identity` resolves artists, albums and genres; `rows` writes tracks and their credits; `refresh` recounts
albums and artists; `covers` stores album covers. Identity follows the database constraints: an artist is
(name_key, MusicBrainz id), an album (album artist, name_key, MusicBrainz release id), a track (source, source_id).
"""
