"""Every word of the admin theme's templates reads in Italian."""

import re
from pathlib import Path

import unfold
from django.utils import translation

# Not words: a format name and a pattern of placeholders; and a word Italian shares.
NOT_TRANSLATED = {"DATETIME_FORMAT", "%(class_name)s %(instance)s", "No"}
PATTERNS = [
    re.compile(r"""\{%\s*(?:trans|translate)\s+(["'])(.+?)\1"""),
    re.compile(r"""\b(?:_|gettext|gettext_lazy)\((["'])(.+?)\1\)"""),
]


def unfold_words() -> set[str]:
    words = set()
    for path in Path(unfold.__file__).parent.rglob("*"):
        if path.suffix not in (".html", ".py"):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for pattern in PATTERNS:
            words.update(match.group(2) for match in pattern.finditer(text))
    return words


def test_the_admin_themes_words_have_an_italian_translation():
    words = unfold_words()
    assert len(words) > 150  # the templates were read
    with translation.override("it"):
        untranslated = sorted(
            word for word in words - NOT_TRANSLATED if translation.gettext(word) == word
        )
    assert not untranslated, untranslated


def test_english_keeps_the_admin_themes_words():
    with translation.override("en"):
        assert translation.gettext("Search apps and models...") == "Search apps and models..."
    with translation.override("it"):
        assert translation.gettext("Search apps and models...") == "Cerca sezioni e tabelle..."
