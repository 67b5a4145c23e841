"""Name folding shared by identity, sorting and search: one definition, so lookups and stored keys agree."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=16_384)
def fold(text: str) -> str:
    """Case- and accent-insensitive key: 'Beyoncé ' -> 'beyonce'. Used for identity and search columns.
    Memoised: an import folds every artist and album name of every track several times over."""
    if text.isascii():  # most names: nothing to decompose (an import folds each name several times)
        return " ".join(text.casefold().split())
    decomposed = unicodedata.normalize("NFKD", text.strip())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


@lru_cache(maxsize=8)
def _articles(articles: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted((a.casefold() + " " for a in articles), key=len, reverse=True))


def sort_name(name: str) -> str:
    """The folded name without a leading article: 'The Beatles' -> 'beatles'."""
    folded = fold(name)
    for article in _articles(tuple(settings.LIBRARY_IGNORED_ARTICLES)):
        if folded.startswith(article) and len(folded) > len(article):
            return folded[len(article) :]
    return folded


def display_sort_name(name: str) -> str:
    """How a name sorts, written for people (Subsonic `sortName`): 'The Beatles' -> 'Beatles, The'. Case and
    accents are kept; a name without a leading article is itself."""
    spaced = " ".join(name.split())
    articles = tuple(settings.LIBRARY_IGNORED_ARTICLES)
    # Runs for every song of a page, and most names start with no article: one set lookup rules them out.
    if spaced.split(" ", 1)[0].casefold() not in _article_first_words(articles):
        return spaced
    for article in sorted(articles, key=len, reverse=True):
        prefix = article + " "
        if len(spaced) > len(prefix) and spaced[: len(prefix)].casefold() == prefix.casefold():
            return f"{spaced[len(prefix) :]}, {spaced[: len(article)]}"
    return spaced


@lru_cache(maxsize=8)
def _article_first_words(articles: tuple[str, ...]) -> frozenset[str]:
    return frozenset(article.split(" ", 1)[0].casefold() for article in articles)
