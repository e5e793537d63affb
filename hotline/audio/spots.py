"""Every place a flow says a prompt, in the order a caller meets them, each with a stable name.

The name (`default.language.on_invalid`) is the prompt's "slot": it names its audio file
(`audio/kk/default.language.on_invalid.mp3`) and tells the voice talent where it is said.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..ivr.model import Flow, Node, Prompt, Transition
from ..ivr.speech import VARIABLE, substitute

_KEY_NAMES = {"*": "star", "#": "hash"}
_FIELD_WORDS = {
    "": "prompt",
    "on_timeout": "after silence",
    "on_invalid": "after a wrong key",
    "on_exhausted": "after the last try",
}
_WORDLESS = re.compile(r"^[\W_]*$")


@dataclass(frozen=True)
class Spot:
    """One place a prompt is said: its slot name, and where that is in words."""

    slot: str  # e.g. default.topic.on_timeout
    source: str  # the flow's name, or callback_prompts
    node: str  # the node (or callback piece) it belongs to
    what: str  # "prompt", "after silence", "after key 1", ...


def flow_spots(flow: Flow) -> Iterator[tuple[Spot, Prompt]]:
    """(spot, prompt) for every prompt of `flow`, nodes in the order a call meets them."""
    for node_id in node_order(flow):
        node = flow.nodes[node_id]
        for suffix, prompt in _node_prompts(node):
            slot = f"{flow.name}.{node.id}" + (f".{suffix}" if suffix else "")
            what = _FIELD_WORDS.get(suffix) or f"after key {suffix.removeprefix('key_')}"
            yield Spot(slot, flow.name, node.id, what), prompt


def replace_prompts(flow: Flow, change: Callable[[str, Prompt], Prompt]) -> Flow:
    """A copy of `flow` with every prompt replaced by change(slot, prompt)."""
    nodes: dict[str, Node] = {}
    for node in flow.nodes.values():
        base = f"{flow.name}.{node.id}"

        def one(prompt: Prompt | None, suffix: str, base: str = base) -> Prompt | None:
            return (
                None if prompt is None else change(f"{base}.{suffix}" if suffix else base, prompt)
            )

        def moved(transition: Transition | None, suffix: str) -> Transition | None:
            if transition is None or transition.prompt is None:
                return transition
            return replace(transition, prompt=one(transition.prompt, suffix))

        nodes[node.id] = replace(
            node,
            prompt=one(node.prompt, ""),
            on_timeout=one(node.on_timeout, "on_timeout"),
            on_invalid=one(node.on_invalid, "on_invalid"),
            options={k: moved(t, _key_suffix(k)) or t for k, t in node.options.items()},
            on_exhausted=moved(node.on_exhausted, "on_exhausted"),
        )
    return replace(flow, nodes=nodes)


def node_order(flow: Flow) -> list[str]:
    """Node ids as a call meets them: from start, then the entry points, then the rest."""
    seen: list[str] = []
    pending = [*reversed(flow.entry_points), flow.start]
    while pending:
        node_id = pending.pop()
        node = flow.nodes.get(node_id)
        if node is None or node_id in seen:
            continue
        seen.append(node_id)
        targets = [node.next] if node.next else []
        targets += [t.target for t in node.options.values()]
        targets += [node.on_exhausted.target] if node.on_exhausted else []
        pending.extend(reversed(targets))
    return seen + [node_id for node_id in flow.nodes if node_id not in seen]


def _node_prompts(node: Node) -> Iterator[tuple[str, Prompt]]:
    if node.prompt is not None:
        yield "", node.prompt
    if node.on_timeout is not None:
        yield "on_timeout", node.on_timeout
    if node.on_invalid is not None:
        yield "on_invalid", node.on_invalid
    for key, transition in node.options.items():
        if transition.prompt is not None:
            yield _key_suffix(key), transition.prompt
    if node.on_exhausted is not None and node.on_exhausted.prompt is not None:
        yield "on_exhausted", node.on_exhausted.prompt


def _key_suffix(key: str) -> str:
    return f"key_{_KEY_NAMES.get(key, key)}"


# --- what a recording of a prompt says --------------------------------------------------------


def spoken_parts(flow: Flow, text: str) -> list[str]:
    """The text a recording says, in parts split at runtime variables ("{last_two}").

    Flow variables are filled in the way the voice says them ("1 1 2": digit by digit, as a
    caller dials). A text without runtime variables is one part. Parts with no words (the "."
    after a number) are left out.
    """
    filled = substitute(text, flow.variables, for_speech=True)
    parts: list[str] = []
    position = 0
    for match in VARIABLE.finditer(filled):
        if match.group(1) in flow.runtime_variables:
            parts.append(filled[position : match.start()])
            parts.append(match.group(0))
            position = match.end()
    parts.append(filled[position:])
    cleaned = []
    for part in parts:
        if VARIABLE.fullmatch(part):
            cleaned.append(part)
            continue
        part = " ".join(part.split()).lstrip(".,;:!?— -")
        if not _WORDLESS.match(part):
            cleaned.append(part)
    return cleaned


def is_variable(part: str) -> bool:
    """Whether a spoken part is a runtime variable's place ("{last_two}")."""
    return VARIABLE.fullmatch(part) is not None
