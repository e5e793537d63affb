"""Turn a flow file's YAML data into the model, reporting every wrong, missing or unknown field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import FlowProblem
from .model import LANGUAGES, Flow, Node, Voice
from .nodes import VAR_NAME, NodeReader, unknown_fields
from .prompts import PromptReader

TTS_LANGUAGE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")  # what <Say language=...> takes, e.g. ru-RU

_FLOW_FIELDS = (
    "name", "start", "languages", "default_language", "voices", "variables",
    "runtime_variables", "entry_points", "nodes", "digits",
)  # fmt: skip
_VOICE_FIELDS = ("voice", "language", "text_from")
_LANGUAGE_LIST = ", ".join(LANGUAGES)


@dataclass(frozen=True)
class Parsed:
    """The flow as far as it could be read, and what the graph checks need to know about it."""

    flow: Flow | None  # None when start, languages or nodes are unusable
    problems: list[FlowProblem]
    declared: frozenset[str]  # every node id in the file, including nodes that failed to parse
    all_nodes_parsed: bool


def parse_flow(data: object, path: Path) -> Parsed:
    """Build a Flow from a file's YAML data, collecting every problem instead of stopping."""
    return _Parser(path).flow(data)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self.problems: list[FlowProblem] = []

    def report(self, node: str | None, problem: str) -> None:
        self.problems.append(FlowProblem(self.file, node, problem))

    def flow(self, data: object) -> Parsed:
        if not isinstance(data, dict):
            self.report(None, "must be a mapping with start, languages, voices and nodes")
            return Parsed(None, self.problems, frozenset(), False)
        for problem in unknown_fields(data, _FLOW_FIELDS, "a flow"):
            self.report(None, problem)
        name = data.get("name", self.path.stem)
        if not isinstance(name, str) or not name:
            self.report(None, "name must be text")
            name = self.path.stem
        languages = self._languages(data.get("languages"))
        default_language = data.get("default_language", languages[0] if languages else None)
        if languages and default_language not in languages:
            self.report(None, f"default_language '{default_language}' is not in languages")
        voices = self._voices(data.get("voices"), languages)
        variables = self._variables(data.get("variables", {}))
        runtime_variables = self._runtime_variables(data.get("runtime_variables", []), variables)
        prompts = PromptReader(
            self.path.parent, languages, voices, variables, self.report, runtime_variables
        )
        reader = NodeReader(prompts, self.report)
        start = data.get("start")
        if not isinstance(start, str):
            self.report(None, "start must name the node a call begins at")
        entry_points = self._entry_points(data.get("entry_points", []))
        digits = self._digits(data.get("digits", {}), languages)
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, dict) or not raw_nodes:
            self.report(None, "nodes must map node ids to nodes")
            raw_nodes = {}
        nodes: dict[str, Node] = {}
        for node_id, raw in raw_nodes.items():
            node = reader.read(str(node_id), raw)
            if node is not None:
                nodes[node.id] = node
        declared = frozenset(str(node_id) for node_id in raw_nodes)
        if not isinstance(start, str) or not languages or not nodes:
            return Parsed(None, self.problems, declared, False)
        flow = Flow(
            name=name,
            source=self.path,
            start=start,
            languages=languages,
            default_language=str(default_language),
            nodes=nodes,
            voices=voices,
            variables=variables,
            entry_points=entry_points,
            runtime_variables=runtime_variables,
            digits=digits,
        )
        return Parsed(flow, self.problems, declared, len(nodes) == len(raw_nodes))

    # --- flow-wide settings ---------------------------------------------------------------

    def _languages(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list) or not raw:
            self.report(None, f"languages must list the flow's languages, e.g. [{_LANGUAGE_LIST}]")
            return ()
        languages: list[str] = []
        for lang in raw:
            if lang not in LANGUAGES:
                self.report(None, f"unknown language code '{lang}' (known: {_LANGUAGE_LIST})")
            elif lang in languages:
                self.report(None, f"language '{lang}' is listed twice")
            else:
                languages.append(lang)
        return tuple(languages)

    def _voices(self, raw: object, languages: tuple[str, ...]) -> dict[str, Voice]:
        if not isinstance(raw, dict):
            self.report(None, "voices must give each language a text-to-speech voice")
            return {}
        voices: dict[str, Voice] = {}
        for lang, spec in raw.items():
            where = f"voice for '{lang}'"
            if lang not in languages:
                self.report(None, f"voices: unknown language code '{lang}' (not in languages)")
                continue
            if not isinstance(spec, dict):
                self.report(None, f"{where} needs voice and language, e.g. Polly.Tatyana, ru-RU")
                continue
            for problem in unknown_fields(spec, _VOICE_FIELDS, "a voice"):
                self.report(None, f"{where}: {problem}")
            voice, tts = spec.get("voice"), spec.get("language")
            text_from = spec.get("text_from")
            if not isinstance(voice, str) or not voice:
                self.report(None, f"{where} has no voice (e.g. Polly.Tatyana)")
                continue
            if not isinstance(tts, str) or not TTS_LANGUAGE.match(tts):
                self.report(None, f"{where}: language must be a code like ru-RU, not '{tts}'")
                continue
            if text_from is not None and (text_from not in languages or text_from == lang):
                self.report(None, f"{where}: text_from '{text_from}' must be another flow language")
                continue
            voices[lang] = Voice(tts_language=tts, voice=voice, text_from=text_from)
        for lang, voice in voices.items():
            if voice.text_from and voices.get(voice.text_from, voice).text_from:
                self.report(None, f"voice for '{lang}': text_from '{voice.text_from}' borrows too")
        for lang in languages:
            if lang not in raw:
                self.report(None, f"language '{lang}' has no voice in voices")
        return voices

    def _variables(self, raw: object) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.report(None, 'variables must map names to text, e.g. emergency: "112"')
            return {}
        variables: dict[str, str] = {}
        for name, value in raw.items():
            if not isinstance(name, str) or not name.isidentifier():
                self.report(None, f"variable name '{name}' must be a word like emergency")
            elif not isinstance(value, str):
                # Unquoted, YAML turns 0102 into the number 66: phone numbers must stay text.
                self.report(None, f"variable '{name}' must be quoted text, e.g. \"{value}\"")
            else:
                variables[name] = value
        return variables

    def _runtime_variables(self, raw: object, variables: dict[str, str]) -> tuple[str, ...]:
        if not isinstance(raw, list):
            self.report(None, "runtime_variables must list names, e.g. [last_two]")
            return ()
        names: list[str] = []
        for name in raw:
            if not isinstance(name, str) or not VAR_NAME.match(name):
                self.report(
                    None,
                    f"runtime variable '{name}' must be 1 to 32 lowercase letters, digits or _",
                )
            elif name in variables:
                # The flow's value would always win: the value the call brings would never be said.
                self.report(None, f"'{name}' is both a variable and a runtime variable")
            elif name in names:
                self.report(None, f"runtime variable '{name}' is listed twice")
            else:
                names.append(name)
        return tuple(names)

    def _digits(self, raw: object, languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """`digits:` per language: the ten words recordings use to say 0 to 9."""
        rule = "digits: give a language the words for 0 to 9, e.g. kk: [нөл, бір, ..., тоғыз]"
        if not isinstance(raw, dict):
            self.report(None, rule)
            return {}
        digits: dict[str, tuple[str, ...]] = {}
        for lang, words in raw.items():
            if lang not in languages:
                self.report(None, f"digits: unknown language code '{lang}' (not in languages)")
            elif (
                not isinstance(words, list)
                or len(words) != 10
                or not all(isinstance(word, str) and word.strip() for word in words)
            ):
                self.report(None, f"digits for '{lang}' must list 10 words, for 0 to 9, in order")
            else:
                digits[str(lang)] = tuple(word.strip() for word in words)
        return digits

    def _entry_points(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            self.report(None, "entry_points must list node ids")
            return ()
        return tuple(raw)
