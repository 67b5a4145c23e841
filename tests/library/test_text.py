"""library.text.display_sort_name: the Subsonic `sortName`."""

from __future__ import annotations

from typing import Any

import pytest

from library.text import display_sort_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("The Beatles", "Beatles, The"),
        ("the  pogues", "pogues, the"),  # case kept, spaces collapsed
        ("Les Négresses Vertes", "Négresses Vertes, Les"),
        ("A Tribe Called Quest", "Tribe Called Quest, A"),
        ("Theatre of Tragedy", "Theatre of Tragedy"),  # a word that only starts like an article
        ("The", "The"),  # nothing after the article
        ("Björk", "Björk"),
        ("", ""),
    ],
)
def test_display_sort_name(name: str, expected: str) -> None:
    assert display_sort_name(name) == expected


def test_display_sort_name_follows_the_configured_articles(settings: Any) -> None:
    settings.LIBRARY_IGNORED_ARTICLES = ["Los"]
    assert display_sort_name("Los Lobos") == "Lobos, Los"
    assert display_sort_name("The Beatles") == "The Beatles"
