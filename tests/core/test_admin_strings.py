"""Every word of the admin's third-party packages reads in Italian."""

import re
from pathlib import Path

import django_otp
import pytest
import simple_history
import unfold
from django.utils import translation

# Not words: a format name and a pattern of placeholders; words Italian shares.
NOT_TRANSLATED = {
    "DATETIME_FORMAT",
    "%(class_name)s %(instance)s",
    "No",
    "Exchange",
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
    [(unfold, 150), (simple_history, 20), (django_otp, 10)],
    ids=["unfold", "simple_history", "django_otp"],
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


def registered_admins():
    from django.contrib import admin
    from django.urls import get_resolver

    assert get_resolver().url_patterns  # the URLconf puts the project's two-factor pages in place
    return admin.site._registry.items()


def in_both_languages(value) -> tuple[str, str]:
    with translation.override("it"):
        italian = str(value)
    with translation.override("en"):
        return italian, str(value)


@pytest.mark.django_db
def test_every_section_and_table_of_the_admin_has_an_italian_name():
    untranslated = []
    for model, _model_admin in registered_admins():
        for value in (
            model._meta.app_config.verbose_name,
            model._meta.verbose_name,
            model._meta.verbose_name_plural,
        ):
            italian, english = in_both_languages(value)
            if italian == english:
                untranslated.append(f"{model._meta.label}: {italian}")
    assert not untranslated, untranslated


def test_the_two_factor_sections_read_in_italian():
    from django.apps import apps

    totp, static = apps.get_app_config("otp_totp"), apps.get_app_config("otp_static")
    with translation.override("it"):
        assert str(totp.verbose_name) == "Verifica in due passaggi: app di autenticazione"
        assert str(static.verbose_name) == "Verifica in due passaggi: codici di emergenza"
        assert str(totp.get_model("TOTPDevice")._meta.verbose_name_plural) == (
            "app di autenticazione"
        )
        assert str(static.get_model("StaticDevice")._meta.verbose_name_plural) == (
            "serie di codici di emergenza"
        )


@pytest.mark.django_db
def test_every_filter_of_the_admin_has_an_italian_title():
    from django.contrib.admin.utils import get_fields_from_path

    untranslated = []
    for model, model_admin in registered_admins():
        for entry in model_admin.list_filter:
            path = entry[0] if isinstance(entry, (tuple, list)) else entry
            if not isinstance(path, str):
                continue  # a filter class: its title is the project's own gettext
            field = get_fields_from_path(model, path)[-1]
            italian, english = in_both_languages(field.verbose_name)
            if italian == english:
                untranslated.append(f"{model._meta.label}.{path}: {italian}")
    assert not untranslated, untranslated


JS_PATTERN = re.compile(r"""\bgettext\(\s*(["'])(.+?)\1,?\s*\)""")


@pytest.mark.django_db
def test_the_admin_scripts_words_are_served_in_italian(client, django_user_model):
    import json

    from django.contrib import admin

    admin_js = Path(admin.__file__).parent / "static" / "admin" / "js"
    words = set()
    for name in ("SelectFilter2.js", "calendar.js", "admin/DateTimeShortcuts.js", "actions.js"):
        words.update(m.group(2) for m in JS_PATTERN.finditer((admin_js / name).read_text()))
    assert {"Choose all %s", "Remove all %s", "(click to clear)"} <= words
    client.force_login(django_user_model.objects.create_superuser("capo", "c@example.org", "x"))

    response = client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="it")

    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});\n", response.text, re.S)[1])
    same = {"server"}  # the same word in Italian
    untranslated = sorted(w for w in words - same if not catalog.get(w))
    assert not untranslated, untranslated
    assert catalog["Choose all %s"] == "Scegli tutto (%s)"
    assert catalog["Remove all %s"] == "Rimuovi tutto (%s)"
    assert catalog["December"] == "dicembre"


def test_italian_dates_write_months_and_days_in_lower_case():
    from datetime import UTC, date, datetime

    from django.utils import formats

    with translation.override("it"):
        assert formats.date_format(date(2026, 12, 7)) == "7 dicembre 2026"
        assert formats.date_format(date(2026, 12, 7), "MONTH_DAY_FORMAT") == "7 dicembre"
        assert formats.date_format(
            datetime(2026, 12, 7, 14, 30, tzinfo=UTC), "DATETIME_FORMAT"
        ) == ("lunedì 7 dicembre 2026, 14:30")
        assert formats.date_format(date(2026, 12, 7), "YEAR_MONTH_FORMAT") == "dicembre 2026"
    with translation.override("en"):
        assert formats.date_format(date(2026, 12, 7)) == "7 Dec 2026"
