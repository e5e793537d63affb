"""Read the nodes of a flow file: kinds, fields, menu keys and transitions, reporting problems."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from .model import TOPICS, Node, NodeKind, Prompt, Transition
from .prompts import PromptReader

DTMF_KEYS = frozenset("0123456789*#")
# Node ids travel in the telephony edge's action URLs.
NODE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
# Call variable names and the values a flow sets travel in action URLs too: keep them plain.
VAR_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_TIMEOUT_SECONDS = 30
MAX_RETRIES = 5
# E.164 numbers have at most 15 digits; room for a national prefix such as 8.
DEFAULT_MAX_DIGITS = 15
MAX_DIGITS = 20
EXPECTS = ("phone",)  # what the edge can check typed digits against

_COMMON_FIELDS = ("kind", "prompt", "all_languages")
_ASK_AGAIN_FIELDS = ("timeout", "max_retries", "on_timeout", "on_invalid", "on_exhausted")
_KIND_FIELDS: dict[NodeKind, tuple[str, ...]] = {
    NodeKind.MESSAGE: ("next",),
    NodeKind.MENU: ("options", "repeat_keys", *_ASK_AGAIN_FIELDS),
    NodeKind.ROUTE: ("topic",),
    NodeKind.HANGUP: (),
    NodeKind.COLLECT: ("expect", "max_digits", "next", *_ASK_AGAIN_FIELDS),
    NodeKind.CALLBACK: (),
}
_TRANSITION_FIELDS = ("next", "set_language", "set_topic", "set", "prompt")
_NAME_RULE = "1 to 32 lowercase letters, digits or _"
_KINDS = ", ".join(kind.value for kind in NodeKind)
_TOPIC_LIST = ", ".join(TOPICS)


def unknown_fields(raw: dict[Any, Any], allowed: Collection[str], what: str) -> list[str]:
    """A problem per field not in `allowed`, with a suggestion for likely typos."""
    found = []
    for name in raw:
        if name in allowed:
            continue
        close = difflib.get_close_matches(str(name), list(allowed), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"{what} has: {', '.join(allowed)}"
        found.append(f"unknown field '{name}' ({hint})")
    return found


class NodeReader:
    """Reads the nodes of one flow file; prompts are read by `prompts`."""

    def __init__(self, prompts: PromptReader, report: Callable[[str | None, str], None]) -> None:
        self.prompts = prompts
        self.report = report

    def read(self, node_id: str, raw: object) -> Node | None:
        """A Node from its YAML mapping, or None when its kind is missing or unknown."""
        if not NODE_ID.match(node_id):
            self.report(
                node_id, "node id must be lowercase letters, digits and _ (it is used in URLs)"
            )
        if not isinstance(raw, dict):
            self.report(node_id, f"must be a mapping with a kind ({_KINDS})")
            return None
        if "kind" not in raw:
            self.report(node_id, f"has no kind ({_KINDS})")
            return None
        try:
            kind = NodeKind(raw["kind"])
        except ValueError:
            self.report(node_id, f"unknown kind '{raw['kind']}' (one of {_KINDS})")
            return None
        allowed = _COMMON_FIELDS + _KIND_FIELDS[kind]
        for problem in unknown_fields(raw, allowed, f"a {kind.value} node"):
            self.report(node_id, problem)
        prompt = self._prompt(node_id, raw, "prompt")
        if prompt is None and kind in (NodeKind.MESSAGE, NodeKind.MENU, NodeKind.COLLECT):
            self.report(node_id, f"{kind.value} node has no prompt")
        all_languages = raw.get("all_languages", False)
        if not isinstance(all_languages, bool):
            self.report(node_id, "all_languages must be true or false")
            all_languages = False
        node = Node(id=node_id, kind=kind, prompt=prompt, all_languages=all_languages)
        if kind is NodeKind.MESSAGE:
            return self._message(node, raw)
        if kind is NodeKind.MENU:
            return self._menu(node, raw)
        if kind is NodeKind.ROUTE:
            return self._route(node, raw)
        if kind is NodeKind.COLLECT:
            return self._collect(node, raw)
        return node

    def _message(self, node: Node, raw: dict[Any, Any]) -> Node:
        target = raw.get("next")
        if not isinstance(target, str):
            self.report(node.id, "dead end: message node has no next")
            return node
        return replace(node, next=target)

    def _route(self, node: Node, raw: dict[Any, Any]) -> Node | None:
        # Without a topic the call goes back to routing with the topic it already has ("try
        # again"); the graph check makes sure no call reaches such a node before choosing one.
        topic = raw.get("topic")
        if topic is not None and topic not in TOPICS:
            self.report(node.id, f"unknown topic '{topic}' (one of {_TOPIC_LIST})")
            # Unread, like a node of unknown kind: it must not pass for a route without a topic.
            return None
        return replace(node, topic=topic)

    def _collect(self, node: Node, raw: dict[Any, Any]) -> Node:
        target = raw.get("next")
        if not isinstance(target, str):
            self.report(node.id, "dead end: collect node has no next (where a valid entry goes)")
            target = None
        expect = raw.get("expect")
        if expect is None:
            self.report(
                node.id, f"collect node has no expect (what the digits must be: {EXPECTS[0]})"
            )
        elif expect not in EXPECTS:
            self.report(node.id, f"unknown expect '{expect}' (one of {', '.join(EXPECTS)})")
            expect = None
        max_digits = raw.get("max_digits", DEFAULT_MAX_DIGITS)
        if (
            isinstance(max_digits, bool)
            or not isinstance(max_digits, int)
            or not (1 <= max_digits <= MAX_DIGITS)
        ):
            self.report(
                node.id, f"max_digits must be a whole number 1 to {MAX_DIGITS}, not '{max_digits}'"
            )
            max_digits = DEFAULT_MAX_DIGITS
        node = replace(node, next=target, expect=expect, max_digits=max_digits)
        return self._ask_again(node, raw, "collect node", "a wrong entry")

    def _menu(self, node: Node, raw: dict[Any, Any]) -> Node:
        options: dict[str, Transition] = {}
        raw_options = raw.get("options")
        if not isinstance(raw_options, dict) or not raw_options:
            self.report(node.id, "menu has no options")
            raw_options = {}
        for raw_key, value in raw_options.items():
            key = self._key(node.id, raw_key, "option")
            transition = self._transition(node.id, value, f"option '{raw_key}'")
            if key is not None and transition is not None:
                options[key] = transition
        repeat_keys: set[str] = set()
        raw_repeat = raw.get("repeat_keys", [])
        for raw_key in raw_repeat if isinstance(raw_repeat, list) else [raw_repeat]:
            key = self._key(node.id, raw_key, "repeat key")
            if key in options:
                self.report(node.id, f"key '{key}' is both an option and a repeat key")
            elif key is not None:
                repeat_keys.add(key)
        node = replace(node, options=options, repeat_keys=frozenset(repeat_keys))
        return self._ask_again(node, raw, "menu", "a wrong key")

    def _ask_again(self, node: Node, raw: dict[Any, Any], what: str, mistake: str) -> Node:
        """The fields of a node that waits for input: how long, how often, and then where."""
        timeout = self._count(node.id, raw, "timeout", MAX_TIMEOUT_SECONDS, what, "seconds to wait")
        retries = self._count(
            node.id, raw, "max_retries", MAX_RETRIES, what, "repeats before on_exhausted"
        )
        on_timeout = self._prompt(node.id, raw, "on_timeout")
        on_invalid = self._prompt(node.id, raw, "on_invalid")
        if on_invalid is None and "on_invalid" not in raw:
            self.report(node.id, f"{what} has no on_invalid prompt (said after {mistake})")
        on_exhausted = None
        if "on_exhausted" in raw:
            on_exhausted = self._transition(node.id, raw["on_exhausted"], "on_exhausted")
        else:
            self.report(
                node.id, f"{what} has no on_exhausted (where the call goes after max_retries)"
            )
        return replace(
            node,
            timeout_seconds=timeout,
            max_retries=retries,
            on_timeout=on_timeout,
            on_invalid=on_invalid,
            on_exhausted=on_exhausted,
        )

    def _key(self, node_id: str, raw: object, what: str) -> str | None:
        # YAML reads an unquoted 1: as the number 1; a staff member means the key "1".
        key = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(key, str) or len(key) != 1 or key not in DTMF_KEYS:
            self.report(node_id, f"{what} '{raw}' is not a single phone key (0-9, *, #)")
            return None
        return key

    def _count(
        self, node_id: str, raw: dict[Any, Any], name: str, high: int, kind: str, what: str
    ) -> int:
        # A timeout of 0 would never wait for a key; 0 retries is fine (straight to on_exhausted).
        low = 1 if name == "timeout" else 0
        value = raw.get(name)
        if value is None:
            self.report(node_id, f"{kind} has no {name} ({what})")
            return low
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.report(node_id, f"{name} must be a whole number {low} to {high}, not '{value}'")
            return low
        return value

    def _transition(self, node_id: str, raw: object, where: str) -> Transition | None:
        if isinstance(raw, str):
            return Transition(target=raw)
        if isinstance(raw, dict):
            # First, so that `{nxt: topic}` says "did you mean 'next'?" as a node's field does.
            for problem in unknown_fields(raw, _TRANSITION_FIELDS, "a transition"):
                self.report(node_id, f"{where}: {problem}")
        if not isinstance(raw, dict) or not isinstance(raw.get("next"), str):
            self.report(node_id, f"{where} must name a next node")
            return None
        language, topic = raw.get("set_language"), raw.get("set_topic")
        if language is not None and language not in self.prompts.languages:
            self.report(node_id, f"{where}: set_language '{language}' is not a flow language")
            language = None
        if topic is not None and topic not in TOPICS:
            self.report(node_id, f"{where}: unknown topic '{topic}' (one of {_TOPIC_LIST})")
            topic = None
        prompt = self._prompt(node_id, raw, "prompt", label=f"{where} prompt")
        set_vars = self._set_vars(node_id, raw["set"], where) if "set" in raw else {}
        return Transition(
            raw["next"], set_language=language, set_topic=topic, prompt=prompt, set_vars=set_vars
        )

    def _set_vars(self, node_id: str, raw: object, where: str) -> dict[str, str]:
        """The call variables a transition sets (`set: {window: morning}`)."""
        if not isinstance(raw, dict) or not raw:
            self.report(node_id, f"{where}: set must map names to values, e.g. {{window: morning}}")
            return {}
        values: dict[str, str] = {}
        for name, value in raw.items():
            if not isinstance(name, str) or not VAR_NAME.match(name):
                self.report(node_id, f"{where}: set: name '{name}' must be {_NAME_RULE}")
            elif isinstance(value, bool):
                # YAML 1.1 reads an unquoted yes or no as true/false, not as text.
                self.report(
                    node_id, f"{where}: set: {name} was read as yes/no: put it in double quotes"
                )
            elif not isinstance(value, str) or not VAR_NAME.match(value):
                self.report(node_id, f"{where}: set: {name} must be {_NAME_RULE}, not '{value}'")
            else:
                values[name] = value
        return values

    def _prompt(
        self, node_id: str, raw: dict[Any, Any], name: str, label: str = ""
    ) -> Prompt | None:
        if name not in raw:
            return None
        return self.prompts.read(node_id, raw[name], label or name)
