"""Every word of the admin's third-party packages reads in Italian."""

import re
from pathlib import Path

import django_celery_beat
import django_otp
import pytest
import simple_history
import unfold
from django.utils import translation

# Not words: a format name and a pattern of placeholders; words Italian shares; and
# celery-beat's "{0} task{1} {2} successfully run", whose English plural suffix in {1} no
# Italian sentence can use (msgfmt requires every placeholder in the translation).
NOT_TRANSLATED = {
    "DATETIME_FORMAT",
    "%(class_name)s %(instance)s",
    "No",
    "Exchange",
    "{0} task{1} {2} successfully run",
}
PATTERNS = [
    re.compile(r"""\{%\s*(?:trans|translate)\s+(["'])(.+?)\1"""),
    re.compile(r"""\b(?:_|gettext|gettext_lazy)\((["'])(.+?)\1\)"""),
]


def package_words(package) -> set[str]:
    words = set()
    for path in Path(package.__file__).parent.rglob("*"):
        if path.suffix not in (".html", ".py") or {"tests", "migrations"} & set(path.parts):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for pattern in PATTERNS:
            words.update(match.group(2) for match in pattern.finditer(text))
    return words


@pytest.mark.parametrize(
    ("package", "at_least"),
    [(unfold, 150), (simple_history, 20), (django_celery_beat, 80), (django_otp, 10)],
    ids=["unfold", "simple_history", "django_celery_beat", "django_otp"],
)
def test_the_packages_words_have_an_italian_translation(package, at_least):
    words = package_words(package)
    assert len(words) > at_least  # the files were read
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


def test_the_empty_choice_of_a_select_reads_in_italian():
    from django.db.models.fields import BLANK_CHOICE_LABEL

    from core.models import Organization

    kind = Organization._meta.get_field("kind")
    with translation.override("it"):
        assert str(BLANK_CHOICE_LABEL) == "- Seleziona un'opzione -"
        assert str(kind.get_choices(include_blank=True)[0][1]) == "- Seleziona un'opzione -"
    with translation.override("en"):
        assert str(BLANK_CHOICE_LABEL) == "- Select an option -"


def test_english_dates_read_day_before_month_as_in_italy():
    from datetime import UTC, date, datetime

    from django import forms
    from django.utils import formats, translation

    with translation.override("en"):
        field = forms.DateField()
        assert field.clean("05/12/2026") == date(2026, 12, 5)
        assert field.clean("2026-12-05") == date(2026, 12, 5)
        assert formats.date_format(date(2026, 12, 5), "SHORT_DATE_FORMAT") == "05/12/2026"
        moment = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "05/12/2026 14:30"
    with translation.override("it"):
        assert forms.DateField().clean("05/12/2026") == date(2026, 12, 5)
