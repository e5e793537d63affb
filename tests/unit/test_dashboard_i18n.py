"""Every text of the dashboard exists in Russian and Kazakh, with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hotline.dashboard.web import i18n
from hotline.dashboard.web.translations import kk, ru

PACKAGE = Path(i18n.__file__).parent.parent  # hotline/dashboard
_TEMPLATE_CALL = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def texts() -> set[str]:
    """Every literal passed to _() in templates and modules, and every vocabulary label."""
    found: set[str] = set()
    for template in PACKAGE.rglob("*.html"):
        for match in _TEMPLATE_CALL.finditer(template.read_text(encoding="utf-8")):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    for module in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"_", "gettext"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    for table in (
        i18n.TOPIC_LABELS,
        i18n.LANGUAGE_LABELS,
        i18n.OUTCOME_LABELS,
        i18n.ROLE_LABELS,
        i18n.RING_LABELS,
        i18n.WINDOW_LABELS,
        i18n.CALLBACK_LABELS,
        i18n.AUDIT_LABELS,
    ):
        found.update(table.values())
    found.update(i18n.WEEKDAYS)
    return found


@pytest.mark.parametrize("catalog", [ru.MESSAGES, kk.MESSAGES], ids=["ru", "kk"])
def test_every_text_is_translated(catalog):
    missing = sorted(texts() - set(catalog))
    assert missing == []


@pytest.mark.parametrize("catalog", [ru.MESSAGES, kk.MESSAGES], ids=["ru", "kk"])
def test_translations_keep_the_placeholders(catalog):
    wrong = [
        key
        for key, value in catalog.items()
        if sorted(_PLACEHOLDER.findall(key)) != sorted(_PLACEHOLDER.findall(value))
    ]
    assert wrong == []


@pytest.mark.parametrize("catalog", [ru.MESSAGES, kk.MESSAGES], ids=["ru", "kk"])
def test_no_translation_is_left_over_from_removed_text(catalog):
    assert sorted(set(catalog) - texts()) == []


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
