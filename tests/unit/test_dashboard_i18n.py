"""The dashboard's gettext catalogs: every text in Russian and Kazakh with its placeholders, the
plural rules of each language, the compiled .mo files current, dates and numbers per language."""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g

from hotline.dashboard.web import formatting, i18n

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["ru", "kk"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NBSP = "\u00a0"  # Russian and Kazakh group digits with a no-break space


def po_path(lang: str) -> Path:
    return i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as po:
        return read_po(po, locale=lang)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """What `pybabel extract` finds in the dashboard's code and templates today."""
    pot = tmp_path_factory.mktemp("catalog") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [pybabel, "extract", "-F", "babel.cfg", "-o", str(pot), "hotline/dashboard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as file:
        return read_po(file)


def translated(message: Message | None, forms: int) -> bool:
    if message is None or message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    expected = forms if message.pluralizable else 1
    return len(strings) == expected and all(strings)


def ids(catalog: Catalog) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0] for message in catalog}


def test_extraction_finds_the_dashboards_texts(extracted):
    # A wrong babel.cfg would extract nothing and every other test here would pass on nothing.
    found = ids(extracted)
    assert {"Call log", "Sign out", "Domestic violence", "Mon", "%(num)s call"} <= found
    assert len(found) > 200


@pytest.mark.parametrize("lang", LANGS)
def test_every_text_of_the_dashboard_is_in_the_catalog(extracted, lang):
    translations = catalog(lang)
    missing = sorted(
        str(message.id)
        for message in extracted
        if message.id and not translated(translations.get(message.id), translations.num_plurals)
    )
    assert missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_no_translation_is_left_over_from_removed_text(extracted, lang):
    assert sorted(ids(catalog(lang)) - ids(extracted) - {""}) == []


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_the_placeholders(lang):
    wrong = []
    for message in catalog(lang):
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = sorted(set(_PLACEHOLDER.findall(sources[-1])))
        wrong += [s for s in strings if sorted(set(_PLACEHOLDER.findall(s))) != wanted]
    assert wrong == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_committed_mo_file_is_compiled_from_the_po_file(lang):
    compiled = io.BytesIO()
    write_mo(compiled, catalog(lang))
    compiled.seek(0)
    with (po_path(lang).with_suffix(".mo")).open("rb") as committed:
        on_disk = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
    assert on_disk == gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]


@pytest.fixture
def in_language():
    """Run code inside a dashboard request whose reader chose lang."""
    app = Flask(__name__)
    app.config["SETTINGS"] = SimpleNamespace(tz=ZoneInfo("Asia/Almaty"))
    i18n.init_app(app)

    def enter(lang: str):
        context = app.test_request_context("/dashboard/")
        context.push()
        g.lang = lang
        return context

    contexts = []
    yield lambda lang: contexts.append(enter(lang))
    for context in reversed(contexts):
        context.pop()


@pytest.mark.parametrize(
    "lang, n, expected",
    [
        ("ru", 1, "1 звонок"),
        ("ru", 2, "2 звонка"),
        ("ru", 5, "5 звонков"),
        ("ru", 11, "11 звонков"),
        ("ru", 21, "21 звонок"),
        ("ru", 22, "22 звонка"),
        ("ru", 112, "112 звонков"),
        ("ru", 1234, f"1{NBSP}234 звонка"),
        ("kk", 1, "1 қоңырау"),
        ("kk", 5, "5 қоңырау"),
        ("en", 1, "1 call"),
        ("en", 2, "2 calls"),
        ("en", 1234, "1,234 calls"),
    ],
)
def test_counts_take_the_plural_form_of_the_language(in_language, lang, n, expected):
    in_language(lang)
    assert i18n.ngettext("%(num)s call", "%(num)s calls", n) == expected


@pytest.mark.parametrize(
    "lang, expected",
    [("ru", "Журнал звонков"), ("kk", "Қоңыраулар журналы"), ("en", "Call log")],
)
def test_texts_come_from_the_readers_catalog(in_language, lang, expected):
    in_language(lang)
    assert i18n.gettext("Call log") == expected


@pytest.mark.parametrize(
    "lang, when, day, number, percent",
    [
        ("ru", "31.03.2026, 18:05", "31.03", f"1{NBSP}234{NBSP}567", f"50{NBSP}%"),
        ("kk", "31.03.2026, 18:05", "31.03", f"1{NBSP}234{NBSP}567", "50%"),
        ("en", "3/31/2026, 6:05\u202fPM", "3/31", "1,234,567", "50%"),
    ],
)
def test_dates_times_and_numbers_are_written_the_readers_way(
    in_language, lang, when, day, number, percent
):
    in_language(lang)
    moment = datetime(2026, 3, 31, 13, 5, 9, tzinfo=UTC)  # 18:05 in Almaty
    assert formatting.when(moment) == when
    assert formatting.date_text(date(2026, 3, 31), year=False) == day
    assert formatting.number(1234567) == number
    assert formatting.percent(0.5) == percent
    assert formatting.time_text(moment, seconds=True).startswith(("18:05:09", "6:05:09"))


@pytest.mark.parametrize(
    "count, lang, expected",
    [
        (2, "en", "2nd"),
        (3, "en", "3rd"),
        (11, "en", "11th"),
        (21, "en", "21st"),
        (3, "ru", "3-й"),
        (3, "kk", "3-"),
    ],
)
def test_ordinals(count, lang, expected):
    assert i18n.ordinal(count, lang) == expected
