"""The flow loader: a broken flow is refused with a message naming the file, node and problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.ivr import engine
from hotline.ivr.loader import (
    FlowError,
    FlowProblem,
    check_directory,
    check_file,
    load_flow,
    load_flows,
)
from hotline.ivr.model import CallState, NodeKind

SHIPPED = Path(__file__).resolve().parents[2] / "ivr_flows"


def says(text: str) -> dict[str, str]:
    return {"kk": f"{text} (kk)", "ru": f"{text} (ru)", "en": text}


# A small valid flow; each test breaks one thing in a copy of it.
VALID: dict[str, Any] = {
    "name": "mini",
    "start": "hello",
    "languages": ["kk", "ru", "en"],
    "default_language": "ru",
    "voices": {
        "ru": {"voice": "Polly.Tatyana", "language": "ru-RU"},
        "en": {"voice": "Polly.Joanna", "language": "en-US"},
        "kk": {"voice": "Polly.Tatyana", "language": "ru-RU", "text_from": "ru"},
    },
    "variables": {"emergency": "112"},
    "entry_points": ["goodbye"],
    "nodes": {
        "hello": {"kind": "message", "prompt": says("Hello, call {emergency}"), "next": "menu"},
        "menu": {
            "kind": "menu",
            "prompt": says("Press 1"),
            "options": {"1": "help", "2": {"next": "menu", "set_language": "en"}},
            "repeat_keys": ["9"],
            "timeout": 5,
            "max_retries": 2,
            "on_timeout": says("Stay on the line"),
            "on_invalid": says("Not on the menu"),
            "on_exhausted": {"next": "help", "set_topic": "violence"},
        },
        "help": {"kind": "route", "topic": "violence"},
        "goodbye": {"kind": "hangup", "prompt": says("Goodbye")},
    },
}


# A collect node and a callback node, added to a copy of VALID by the tests that need them.
COLLECT: dict[str, Any] = {
    "kind": "collect",
    "prompt": says("Type the number, then hash"),
    "expect": "phone",
    "next": "request",
    "timeout": 10,
    "max_retries": 2,
    "on_invalid": says("Not a number we can call"),
    "on_exhausted": "menu",
}


def with_consent(data: dict[str, Any], **collect: Any) -> dict[str, Any]:
    """Key 3 of the menu leads to a collect node (with `collect` fields changed; None removes one)
    and on to a callback node. Returns the collect node."""
    number = {**COLLECT, **collect}
    for name, value in collect.items():
        if value is None:
            number.pop(name)
    data["nodes"].update(number=number, request={"kind": "callback"})
    node(data, "menu")["options"]["3"] = {"next": "number", "set": {"window": "any"}}
    return number


def with_set(values: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        node(d, "menu")["options"]["3"] = {"next": "goodbye", "set": values}

    return change


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def broken(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = copy.deepcopy(VALID)
    change(data)
    return write(tmp_path / "mini.yaml", data)


def node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    return data["nodes"][node_id]


def test_the_valid_example_loads(tmp_path):
    flow = load_flow(write(tmp_path / "mini.yaml", VALID))

    assert flow.name == "mini"
    assert flow.nodes["menu"].kind is NodeKind.MENU
    assert flow.entry_points == ("goodbye",)
    assert engine.start(flow).visited == ("hello", "menu")


# --- each validation error names the file, the node and the problem ----------------------------

CASES: list[tuple[str, Callable[[dict[str, Any]], None], str | None, str]] = [
    (
        "unknown option target",
        lambda d: node(d, "menu")["options"].update({"1": "violnce"}),
        "menu",
        "option '1' targets unknown node 'violnce'",
    ),
    (
        "unknown next",
        lambda d: node(d, "hello").update(next="menuu"),
        "hello",
        "next targets unknown node 'menuu'",
    ),
    (
        "unknown on_exhausted target",
        lambda d: node(d, "menu").update(on_exhausted="nowhere"),
        "menu",
        "on_exhausted targets unknown node 'nowhere'",
    ),
    ("unknown start", lambda d: d.update(start="helo"), None, "start targets unknown node 'helo'"),
    (
        "unknown entry point",
        lambda d: d.update(entry_points=["goodbye", "nobody_available"]),
        None,
        "entry_points: 'nobody_available' is not a node of this flow",
    ),
    (
        "unreachable node",
        lambda d: d["nodes"].update(orphan={"kind": "hangup"}),
        "orphan",
        "unreachable",
    ),
    (
        "entry point not declared",
        lambda d: d.update(entry_points=[]),
        "goodbye",
        "unreachable",
    ),
    (
        "message without next",
        lambda d: node(d, "hello").pop("next"),
        "hello",
        "dead end: message node has no next",
    ),
    (
        "route without topic",
        lambda d: node(d, "help").pop("topic"),
        "help",
        "dead end: route node has no topic, and a call reaches it from start before choosing one",
    ),
    (
        "route without topic behind a menu that sets none",
        lambda d: (
            d["nodes"].update(again={"kind": "route"})
            or node(d, "menu")["options"].update({"3": {"next": "again", "set_language": "kk"}})
        ),
        "again",
        "route node has no topic, and a call reaches it from start",
    ),
    (
        "collect without next",
        lambda d: with_consent(d, next=None),
        "number",
        "dead end: collect node has no next (where a valid entry goes)",
    ),
    (
        "collect next to an unknown node",
        lambda d: with_consent(d, next="reqest"),
        "number",
        "next targets unknown node 'reqest'",
    ),
    (
        "collect without on_exhausted",
        lambda d: with_consent(d, on_exhausted=None),
        "number",
        "collect node has no on_exhausted (where the call goes after max_retries)",
    ),
    (
        "collect without on_invalid",
        lambda d: with_consent(d, on_invalid=None),
        "number",
        "collect node has no on_invalid prompt (said after a wrong entry)",
    ),
    (
        "collect without timeout",
        lambda d: with_consent(d, timeout=None),
        "number",
        "collect node has no timeout (seconds to wait)",
    ),
    (
        "collect without max_retries",
        lambda d: with_consent(d, max_retries=None),
        "number",
        "collect node has no max_retries",
    ),
    (
        "collect without prompt",
        lambda d: with_consent(d, prompt=None),
        "number",
        "collect node has no prompt",
    ),
    (
        "collect without expect",
        lambda d: with_consent(d, expect=None),
        "number",
        "collect node has no expect (what the digits must be: phone)",
    ),
    (
        "collect expecting something unknown",
        lambda d: with_consent(d, expect="email"),
        "number",
        "unknown expect 'email' (one of phone)",
    ),
    (
        "collect with too many digits",
        lambda d: with_consent(d, max_digits=50),
        "number",
        "max_digits must be a whole number 1 to 20, not '50'",
    ),
    (
        "collect with max_digits as text",
        lambda d: with_consent(d, max_digits="15"),
        "number",
        "max_digits must be a whole number 1 to 20, not '15'",
    ),
    (
        "collect with a zero timeout",
        lambda d: with_consent(d, timeout=0),
        "number",
        "timeout must be a whole number 1 to 30",
    ),
    (
        "collect on_timeout missing a language",
        lambda d: with_consent(d, on_timeout={"ru": "Тишина", "en": "Silence"}),
        "number",
        "on_timeout is missing language 'kk'",
    ),
    (
        "collect with menu options",
        lambda d: with_consent(d, options={"1": "goodbye"}),
        "number",
        "unknown field 'options' (a collect node has: ",
    ),
    (
        "typo in a collect field",
        lambda d: with_consent(d, expext="phone", expect=None),
        "number",
        "unknown field 'expext' (did you mean 'expect'?)",
    ),
    (
        "callback with a next node",
        lambda d: with_consent(d) and node(d, "request").update(next="goodbye"),
        "request",
        "unknown field 'next' (a callback node has: kind, prompt, all_languages)",
    ),
    (
        "callback nobody reaches",
        lambda d: d["nodes"].update(request={"kind": "callback"}),
        "request",
        "unreachable",
    ),
    (
        "unquoted yes in set",
        with_set({"identify": True}),
        "menu",
        "option '3': set: identify was read as yes/no: put it in double quotes",
    ),
    (
        "set name with capitals",
        with_set({"Window": "any"}),
        "menu",
        "option '3': set: name 'Window' must be 1 to 32 lowercase letters, digits or _",
    ),
    (
        "set value with spaces",
        with_set({"window": "in the morning"}),
        "menu",
        "option '3': set: window must be 1 to 32 lowercase letters, digits or _, "
        "not 'in the morning'",
    ),
    (
        "set value too long",
        with_set({"window": "m" * 33}),
        "menu",
        "set: window must be 1 to 32 lowercase letters",
    ),
    ("set value a number", with_set({"slot": 1}), "menu", "set: slot must be 1 to 32"),
    ("set an empty mapping", with_set({}), "menu", "option '3': set must map names to values"),
    ("set a list", with_set(["window", "any"]), "menu", "option '3': set must map names"),
    (
        "set in on_exhausted with a bad value",
        lambda d: node(d, "menu").update(on_exhausted={"next": "help", "set": {"window": "Any!"}}),
        "menu",
        "on_exhausted: set: window must be 1 to 32 lowercase letters, digits or _, not 'Any!'",
    ),
    (
        "typo in set",
        lambda d: node(d, "menu")["options"].update({"3": {"next": "help", "sett": {"a": "b"}}}),
        "menu",
        "option '3': unknown field 'sett' (did you mean 'set'?)",
    ),
    (
        "runtime variable not declared",
        lambda d: node(d, "menu")["prompt"].update(en="Ending in {last_two}, press 1"),
        "menu",
        "prompt (en) uses {last_two}, which is not defined in variables or runtime_variables",
    ),
    (
        "runtime_variables not a list",
        lambda d: d.update(runtime_variables="last_two"),
        None,
        "runtime_variables must list names, e.g. [last_two]",
    ),
    (
        "runtime variable with a bad name",
        lambda d: d.update(runtime_variables=["last-two"]),
        None,
        "runtime variable 'last-two' must be 1 to 32 lowercase letters, digits or _",
    ),
    (
        "runtime variable that is also a variable",
        lambda d: d.update(runtime_variables=["emergency"]),
        None,
        "'emergency' is both a variable and a runtime variable",
    ),
    (
        "runtime variable listed twice",
        lambda d: d.update(runtime_variables=["last_two", "last_two"]),
        None,
        "runtime variable 'last_two' is listed twice",
    ),
    (
        "messages in a loop",
        lambda d: (
            d["nodes"].update(
                a={"kind": "message", "prompt": says("A"), "next": "b"},
                b={"kind": "message", "prompt": says("B"), "next": "a"},
            )
            or node(d, "menu")["options"].update({"3": "a"})
        ),
        "a",
        "dead end: messages loop forever (a -> b -> a)",
    ),
    (
        "prompt missing a language",
        lambda d: node(d, "hello")["prompt"].pop("kk"),
        "hello",
        "prompt is missing language 'kk'",
    ),
    (
        "option prompt missing a language",
        lambda d: node(d, "menu")["options"].update(
            {"3": {"next": "help", "prompt": {"ru": "Да", "en": "Yes"}}}
        ),
        "menu",
        "option '3' prompt is missing language 'kk'",
    ),
    (
        "prompt in a language the flow does not have",
        lambda d: node(d, "goodbye")["prompt"].update(de="Tschüss"),
        "goodbye",
        "prompt has text in 'de', which is not a flow language",
    ),
    (
        "menu without timeout",
        lambda d: node(d, "menu").pop("timeout"),
        "menu",
        "menu has no timeout",
    ),
    (
        "menu without max_retries",
        lambda d: node(d, "menu").pop("max_retries"),
        "menu",
        "menu has no max_retries",
    ),
    (
        "menu without invalid prompt",
        lambda d: node(d, "menu").pop("on_invalid"),
        "menu",
        "menu has no on_invalid prompt",
    ),
    (
        "menu without on_exhausted",
        lambda d: node(d, "menu").pop("on_exhausted"),
        "menu",
        "menu has no on_exhausted",
    ),
    (
        "menu with a zero timeout",
        lambda d: node(d, "menu").update(timeout=0),
        "menu",
        "timeout must be a whole number 1 to 30",
    ),
    (
        "two-digit option key",
        lambda d: node(d, "menu")["options"].update({"12": "help"}),
        "menu",
        "option '12' is not a single phone key (0-9, *, #)",
    ),
    (
        "letter option key",
        lambda d: node(d, "menu")["options"].update({"a": "help"}),
        "menu",
        "option 'a' is not a single phone key",
    ),
    (
        "repeat key that is also an option",
        lambda d: node(d, "menu").update(repeat_keys=["1"]),
        "menu",
        "key '1' is both an option and a repeat key",
    ),
    (
        "unknown kind",
        lambda d: node(d, "goodbye").update(kind="hang_up"),
        "goodbye",
        "unknown kind 'hang_up' (one of message, menu, route, hangup, collect, callback)",
    ),
    ("missing kind", lambda d: node(d, "goodbye").pop("kind"), "goodbye", "has no kind"),
    (
        "typo in a field",
        lambda d: node(d, "hello").update(nxt=node(d, "hello").pop("next")),
        "hello",
        "unknown field 'nxt' (did you mean 'next'?)",
    ),
    (
        "field of another kind",
        lambda d: node(d, "goodbye").update(next="hello"),
        "goodbye",
        "unknown field 'next'",
    ),
    (
        "typo in an option",
        lambda d: node(d, "menu")["options"].update({"3": {"next": "help", "set_langauge": "kk"}}),
        "menu",
        "option '3': unknown field 'set_langauge' (did you mean 'set_language'?)",
    ),
    (
        "typo for next in an option",
        lambda d: node(d, "menu")["options"].update({"3": {"nxt": "help"}}),
        "menu",
        "option '3': unknown field 'nxt' (did you mean 'next'?)",
    ),
    (
        "typo for next in on_exhausted",
        lambda d: node(d, "menu").update(on_exhausted={"nxt": "goodbye"}),
        "menu",
        "on_exhausted: unknown field 'nxt' (did you mean 'next'?)",
    ),
    (
        "typo in a flow field",
        lambda d: d.update(entrypoints=d.pop("entry_points")),
        None,
        "unknown field 'entrypoints' (did you mean 'entry_points'?)",
    ),
    (
        "voice for an unknown language",
        lambda d: d["voices"].update(de={"voice": "Polly.Marlene", "language": "de-DE"}),
        None,
        "voices: unknown language code 'de'",
    ),
    (
        "unknown flow language",
        lambda d: d.update(languages=["kk", "ru", "en", "xx"]),
        None,
        "unknown language code 'xx'",
    ),
    (
        "language without a voice",
        lambda d: d["voices"].pop("en"),
        None,
        "language 'en' has no voice in voices",
    ),
    (
        "text_from an unknown language",
        lambda d: d["voices"]["kk"].update(text_from="tr"),
        None,
        "voice for 'kk': text_from 'tr' must be another flow language",
    ),
    (
        "unknown topic",
        lambda d: node(d, "help").update(topic="housing"),
        "help",
        "unknown topic 'housing' (one of violence, trafficking, labor)",
    ),
    (
        "unknown set_topic",
        lambda d: node(d, "menu").update(on_exhausted={"next": "help", "set_topic": "violance"}),
        "menu",
        "on_exhausted: unknown topic 'violance'",
    ),
    (
        "unknown set_language",
        lambda d: node(d, "menu")["options"].update({"2": {"next": "menu", "set_language": "kz"}}),
        "menu",
        "option '2': set_language 'kz' is not a flow language",
    ),
    (
        "undefined variable",
        lambda d: node(d, "goodbye")["prompt"].update(ru="Звоните {polise}"),
        "goodbye",
        "prompt (ru) uses {polise}, which is not defined in variables",
    ),
    (
        "unquoted number variable",
        lambda d: d["variables"].update(police=102),
        None,
        "variable 'police' must be quoted text",
    ),
    (
        "fallback for a language with its own voice",
        lambda d: node(d, "goodbye")["prompt"].update(en={"text": "Bye", "fallback": "Bye"}),
        "goodbye",
        "prompt (en): fallback is never said",
    ),
    (
        "unquoted No read as false",
        lambda d: node(d, "goodbye")["prompt"].update(en=False),
        "goodbye",
        "prompt (en) was read as yes/no: put the text in double quotes",
    ),
    (
        "node id unusable in a URL",
        lambda d: (
            d["nodes"].update({"Good Bye": d["nodes"].pop("goodbye")})
            or d.update(entry_points=["Good Bye"])
        ),
        "Good Bye",
        "node id must be lowercase letters, digits and _",
    ),
]


@pytest.mark.parametrize(
    ("change", "node_id", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_broken_flow_is_refused_naming_file_node_and_problem(tmp_path, change, node_id, problem):
    path = broken(tmp_path, change)

    with pytest.raises(FlowError) as raised:
        load_flow(path)

    matching = [p for p in raised.value.problems if problem in p.problem and p.node == node_id]
    assert matching, f"expected {problem!r} at node {node_id!r}, got:\n{raised.value}"
    assert matching[0].file == str(path)
    where = f"node '{node_id}': " if node_id else ""
    assert f"{path}: {where}" in str(raised.value)


def test_a_flow_with_collect_callback_set_and_runtime_variables_loads(tmp_path):
    data = copy.deepcopy(VALID)
    with_consent(data, max_digits=None)  # left out: 15, what an E.164 number can have
    data["runtime_variables"] = ["last_two"]
    node(data, "menu")["prompt"]["en"] = "Ending in {last_two}, press 1"

    flow = load_flow(write(tmp_path / "mini.yaml", data))

    number = flow.nodes["number"]
    assert number.kind is NodeKind.COLLECT
    assert (number.next, number.expect, number.max_digits) == ("request", "phone", 15)
    assert (number.timeout_seconds, number.max_retries, number.on_exhausted.target) == (
        10,
        2,
        "menu",
    )
    assert flow.nodes["request"].kind is NodeKind.CALLBACK
    assert flow.nodes["menu"].options["3"].set_vars == {"window": "any"}
    assert flow.runtime_variables == ("last_two",)


def test_a_route_without_a_topic_is_fine_when_only_an_entry_point_reaches_it(tmp_path):
    data = copy.deepcopy(VALID)
    data["nodes"]["offer"] = {
        "kind": "menu",
        "prompt": says("Press 3 to try again"),
        "options": {"3": "again"},
        "timeout": 5,
        "max_retries": 2,
        "on_invalid": says("Not on the menu"),
        "on_exhausted": "goodbye",
    }
    data["nodes"]["again"] = {"kind": "route"}
    data["entry_points"].append("offer")

    flow = load_flow(write(tmp_path / "mini.yaml", data))

    assert flow.nodes["again"].topic is None


def test_a_route_with_a_misspelled_topic_is_reported_once(tmp_path):
    problems = check_file(broken(tmp_path, lambda d: node(d, "help").update(topic="violance")))

    assert [p.problem for p in problems if p.node == "help"] == [
        "unknown topic 'violance' (one of violence, trafficking, labor)"
    ]


def test_a_recording_cannot_stand_for_a_prompt_with_a_runtime_variable(tmp_path):
    (tmp_path / "audio" / "en").mkdir(parents=True)
    (tmp_path / "audio" / "en" / "menu.mp3").write_bytes(b"ID3")
    data = copy.deepcopy(VALID)
    data["runtime_variables"] = ["last_two"]
    node(data, "menu")["prompt"]["en"] = {
        "text": "Ending in {last_two}, press 1",
        "audio": "audio/en/menu.mp3",
    }

    problems = check_file(write(tmp_path / "mini.yaml", data))

    assert [(p.node, p.problem) for p in problems] == [
        (
            "menu",
            "prompt (en): a recording cannot say {last_two}, which changes with every call: "
            "leave this text without audio",
        )
    ]


def test_the_problem_reads_as_file_node_and_problem():
    problem = FlowProblem(
        "ivr_flows/default.yaml", "topic", "option '1' targets unknown node 'violnce'"
    )

    assert str(problem) == (
        "ivr_flows/default.yaml: node 'topic': option '1' targets unknown node 'violnce'"
    )
    assert str(FlowProblem("f.yaml", None, "start targets unknown node 'x'")) == (
        "f.yaml: start targets unknown node 'x'"
    )


def test_every_problem_is_reported_at_once_one_per_line(tmp_path):
    def many(d: dict[str, Any]) -> None:
        node(d, "hello")["prompt"].pop("en")
        node(d, "menu").pop("timeout")
        node(d, "help").update(topic="housing")

    with pytest.raises(FlowError) as raised:
        load_flow(broken(tmp_path, many))

    lines = str(raised.value).splitlines()
    assert len(lines) == len(raised.value.problems) == 3
    assert any("node 'hello': prompt is missing language 'en'" in line for line in lines)
    assert any("node 'menu': menu has no timeout" in line for line in lines)
    assert any("node 'help': unknown topic 'housing'" in line for line in lines)


# --- recordings ----------------------------------------------------------------------------------


def with_audio(audio: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        node(d, "goodbye")["prompt"]["kk"] = {"text": "Сау болыңыз", "audio": audio}

    return change


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        ("audio/kk/goodbye.mp3", "audio file 'audio/kk/goodbye.mp3' does not exist"),
        ("../secret.mp3", "audio '../secret.mp3' is outside the flows directory"),
        ("audio/../../secret.mp3", "is outside the flows directory"),
        ("/etc/passwd", "audio '/etc/passwd' is outside the flows directory"),
        ("audio/kk/goodbye.ogg", "must be .mp3 or .wav"),
    ],
)
def test_a_missing_or_unsafe_recording_is_refused(tmp_path, audio, problem):
    (tmp_path / "secret.mp3").write_bytes(b"ID3")
    flows = tmp_path / "flows"
    flows.mkdir()
    data = copy.deepcopy(VALID)
    with_audio(audio)(data)
    problems = check_file(write(flows / "mini.yaml", data))

    assert [(p.node, problem in p.problem) for p in problems] == [("goodbye", True)]


def test_a_recording_next_to_the_flow_is_played(tmp_path):
    (tmp_path / "audio" / "kk").mkdir(parents=True)
    (tmp_path / "audio" / "kk" / "goodbye.mp3").write_bytes(b"ID3")
    flow = load_flow(broken(tmp_path, with_audio("audio/kk/goodbye.mp3")))

    step = engine.enter(flow, "goodbye", CallState(language="kk"))
    assert [u.audio for u in step.utterances] == ["audio/kk/goodbye.mp3"]


# --- YAML itself ---------------------------------------------------------------------------------

DUPLICATE_KEY = """\
name: mini
start: hello
languages: [kk, ru, en]
voices:
  ru: {voice: Polly.Tatyana, language: ru-RU}
  en: {voice: Polly.Joanna, language: en-US}
  kk: {voice: Polly.Tatyana, language: ru-RU, text_from: ru}
nodes:
  hello:
    kind: menu
    prompt: {kk: Бір, ru: Один, en: One}
    options:
      "1": help
      "2": help
      "1": bye
    timeout: 5
    max_retries: 2
    on_invalid: {kk: Жоқ, ru: Нет, en: Wrong key}
    on_exhausted: help
  help:
    kind: route
    topic: violence
  bye:
    kind: hangup
  help:
    kind: route
    topic: labor
"""


def test_a_duplicate_menu_key_is_refused_with_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE_KEY, encoding="utf-8")

    problems = check_file(path)

    assert FlowProblem(str(path), "hello", "duplicate key '1' (line 15, first at line 13)") in (
        problems
    )


def test_a_node_defined_twice_is_refused(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE_KEY, encoding="utf-8")

    problems = check_file(path)

    assert FlowProblem(str(path), "help", "is defined twice (line 25, first at line 20)") in (
        problems
    )


def test_a_duplicate_key_written_once_quoted_and_once_bare_is_still_a_duplicate(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE_KEY.replace('      "1": bye', "      1: bye"), encoding="utf-8")

    assert any("duplicate key '1'" in p.problem for p in check_file(path))


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "start: hello\nnodes:\n  hello:\n    kind: message\n"
        "    prompt: {ru: Экстренные номера: 0}\n",
        encoding="utf-8",
    )

    problems = check_file(path)

    assert len(problems) == 1
    assert problems[0].file == str(path)
    assert problems[0].node is None
    assert problems[0].problem.startswith("YAML syntax error at line 5")


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "just text\n"])
def test_a_file_that_is_not_a_flow_is_refused(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")

    problems = check_file(path)

    assert problems and problems[0].problem.startswith("must be a mapping")


def test_unquoted_menu_keys_are_read_as_keys(tmp_path):
    text = yaml.safe_dump(VALID, allow_unicode=True, sort_keys=False).replace(
        "'1': help", "1: help"
    )
    assert "1: help" in text
    path = tmp_path / "mini.yaml"
    path.write_text(text, encoding="utf-8")

    flow = load_flow(path)

    assert "1" in flow.nodes["menu"].options


# --- directories ---------------------------------------------------------------------------------


def test_the_shipped_flows_pass_the_check():
    assert check_directory(SHIPPED) == []
    flows = load_flows(SHIPPED)
    default = flows["default"]
    # The telephony edge enters these by name.
    for entry in ("nobody_available", "technical_difficulty", "restart"):
        assert entry in default.entry_points
        assert entry in default.nodes


def test_the_shipped_kazakh_prompts_are_written_in_kazakh():
    default = load_flows(SHIPPED)["default"]
    kazakh = " ".join(
        node.prompt.texts["kk"].text for node in default.nodes.values() if node.prompt is not None
    )
    # Letters Russian does not have: a Kazakh text written with Russian letters would have none.
    assert set("әғқңөұүі") <= set(kazakh.lower())


def test_every_flow_file_in_a_directory_is_loaded_by_name(tmp_path):
    write(tmp_path / "main.yaml", VALID)
    write(tmp_path / "night.yml", {**VALID, "name": "night"})
    (tmp_path / "notes.txt").write_text("not a flow")

    assert sorted(load_flows(tmp_path)) == ["mini", "night"]


def test_two_flows_with_the_same_name_are_refused(tmp_path):
    write(tmp_path / "a.yaml", VALID)
    write(tmp_path / "b.yaml", VALID)

    problems = check_directory(tmp_path)

    assert [(p.file, p.node) for p in problems] == [(str(tmp_path / "b.yaml"), None)]
    assert "flow name 'mini' is also used by" in problems[0].problem


def test_a_broken_file_among_good_ones_fails_the_whole_directory(tmp_path):
    write(tmp_path / "a.yaml", VALID)
    broken_data = copy.deepcopy(VALID)
    broken_data["name"] = "other"
    node(broken_data, "menu").pop("on_invalid")
    write(tmp_path / "b.yaml", broken_data)

    with pytest.raises(FlowError) as raised:
        load_flows(tmp_path)

    problem = "menu has no on_invalid prompt (said after a wrong key)"
    assert str(raised.value) == f"{tmp_path / 'b.yaml'}: node 'menu': {problem}"


@pytest.mark.parametrize("make", ["empty", "missing"])
def test_an_empty_or_missing_directory_is_a_problem(tmp_path, make):
    directory = tmp_path / "flows"
    if make == "empty":
        directory.mkdir()

    problems = check_directory(directory)

    assert len(problems) == 1 and problems[0].file == str(directory)
    with pytest.raises(FlowError):
        load_flows(directory)
