"""Reading config/outcomes.yaml: every problem in one pass, each naming the file and the field.

Checked at start-up with the flows (hotline.startup): an unknown key, topic or `choose`, a label
missing a language, an id used twice (in the file or as a YAML key) stops the web and the worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..yaml_errors import describe as describe_yaml_error
from .model import LANGUAGES, REQUIRED_FIELDS, YES, Field, Option, OutcomeSchema

TOPICS = ("violence", "trafficking", "labor")  # the IVR's topic ids (hotline.routing.policy)
_ID = re.compile(r"^[a-z0-9_]{1,32}$")
_FIELD_KEYS = {"id", "label", "choose", "required", "options"}
_OPTION_KEYS = {"id", "label", "topic"}


class OutcomesError(Exception):
    """The outcomes file is unreadable or invalid: "FILE:\\n  - problem" for every problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}:\n  - " + "\n  - ".join(problems))


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice (plain YAML keeps the last one silently)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def load_outcomes(path: str | Path) -> OutcomeSchema:
    """Read and check the outcomes file; OutcomesError lists every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise OutcomesError(source, [f"cannot read the file ({exc.strerror})"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise OutcomesError(source, [describe_yaml_error(exc)]) from None
    return parse_outcomes(data, source)


def parse_outcomes(data: Any, source: str = "outcomes") -> OutcomeSchema:
    """Check parsed YAML into an OutcomeSchema; OutcomesError names each bad field."""
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
        raise OutcomesError(source, ["expected `fields:` with a list of fields"])
    for key in sorted(set(data) - {"fields"}, key=str):
        problems.append(f"{key}: unknown key (known: fields)")
    fields: list[Field] = []
    seen: set[str] = set()
    # Fields present but broken are reported for what is wrong, not as missing as well.
    named = {raw.get("id") for raw in data["fields"] if isinstance(raw, dict)}
    for index, raw in enumerate(data["fields"]):
        item = _field(raw, f"fields[{index}]", problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"fields[{index}] ({item.id}): duplicate field id")
            continue
        seen.add(item.id)
        fields.append(item)
    for missing in [f for f in REQUIRED_FIELDS if f not in named]:
        problems.append(f"fields: missing {missing} (the statistics read it)")
    admitted = next((f for f in fields if f.id == "shelter_admitted"), None)
    if admitted is not None and admitted.option(YES) is None:
        problems.append('shelter_admitted: needs an option with id "yes" (admissions count it)')
    if problems:
        raise OutcomesError(source, problems)
    return OutcomeSchema(tuple(fields))


def _field(raw: Any, where: str, problems: list[str]) -> Field | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with id, label, choose and options")
        return None
    field_id = _id(raw.get("id"), where, problems)
    where = f"{where} ({field_id})" if field_id else where
    for key in sorted(set(raw) - _FIELD_KEYS, key=str):
        problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(_FIELD_KEYS))})")
    labels = _labels(raw.get("label"), f"{where}.label", problems)
    choose = raw.get("choose", "one")
    if choose not in ("one", "many"):
        problems.append(f"{where}.choose: {choose!r} is not one or many")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{where}.required: expected true or false, got {required!r}")
    options = _options(raw.get("options"), where, problems)
    if field_id is None or labels is None or options is None:
        return None
    return Field(field_id, labels, choose == "many", required is True, options)


def _options(raw: Any, where: str, problems: list[str]) -> tuple[Option, ...] | None:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}.options: expected a non-empty list of options")
        return None
    options: list[Option] = []
    seen: set[str] = set()
    ok = True
    for index, item in enumerate(raw):
        at = f"{where}.options[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected a mapping with id and label")
            ok = False
            continue
        option_id = _id(item.get("id"), at, problems)
        at = f"{at} ({option_id})" if option_id else at
        for key in sorted(set(item) - _OPTION_KEYS, key=str):
            problems.append(f"{at}.{key}: unknown key (known: {', '.join(sorted(_OPTION_KEYS))})")
        labels = _labels(item.get("label"), f"{at}.label", problems)
        topic = item.get("topic")
        if topic is not None and topic not in TOPICS:
            problems.append(f"{at}.topic: unknown topic {topic!r} (known: {', '.join(TOPICS)})")
            ok = False
        if option_id is not None and option_id in seen:
            problems.append(f"{at}: duplicate option id")
            ok = False
        elif option_id is not None:
            seen.add(option_id)
        if option_id is None or labels is None:
            ok = False
            continue
        options.append(Option(option_id, labels, topic))
    return tuple(options) if ok else None


def _id(raw: Any, where: str, problems: list[str]) -> str | None:
    if isinstance(raw, bool):
        # YAML reads a bare yes/no as true/false.
        problems.append(f'{where}.id: {raw!r} is not text (write "yes" / "no" in quotes)')
        return None
    if not isinstance(raw, str) or not _ID.match(raw):
        problems.append(f"{where}.id: expected an id of a-z, 0-9 and _ (got {raw!r})")
        return None
    return raw


def _labels(raw: Any, where: str, problems: list[str]) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected labels in {', '.join(LANGUAGES)}")
        return None
    labels: dict[str, str] = {}
    for lang in LANGUAGES:
        text = raw.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}.{lang}: missing translation")
        else:
            labels[lang] = text.strip()
    for key in sorted(set(raw) - set(LANGUAGES), key=str):
        problems.append(f"{where}.{key}: unknown language (known: {', '.join(LANGUAGES)})")
    return labels if len(labels) == len(LANGUAGES) and len(raw) == len(LANGUAGES) else None
