"""What a step may say, read from the flow alone, so the edge can skip work a step never needs.

Pure: the same walk as the engine's (hotline.ivr.engine), over every input at once. A step that
handles input at a node says, at most: the node's notices and transition prompts, and the
prompts met walking from each place the input can lead (an option, on_exhausted, the node itself
again, a collect node's next) through message nodes to the node that stops the walk.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping

from .model import Flow, Node, NodeKind, Prompt
from .speech import variable_names


def steps_saying_runtime_variables(
    flow: Flow, detours: Mapping[str, str] | None = None
) -> frozenset[str]:
    """The nodes where the step that handles a key (or typed digits) may say a runtime variable.

    `detours`: a node the edge may enter instead when a step would stop at another
    ({stopped at: entered instead}, e.g. the hidden-number notice for the number menu).
    """
    names = set(flow.runtime_variables) - set(flow.variables)  # the flow's own values win
    if not names:
        return frozenset()
    return frozenset(
        node.id
        for node in flow.nodes.values()
        if node.kind in (NodeKind.MENU, NodeKind.COLLECT)
        and any(_says(prompt, names) for prompt in _step_prompts(flow, node, detours or {}))
    )


def _says(prompt: Prompt | None, names: set[str]) -> bool:
    if prompt is None:
        return False
    # Every language's text and fallback: a borrowed voice may read another language's text.
    return any(
        names.intersection(variable_names(raw))
        for text in prompt.texts.values()
        for raw in (text.text, text.fallback or "")
    )


def _step_prompts(flow: Flow, node: Node, detours: Mapping[str, str]) -> Iterator[Prompt | None]:
    transitions = [*node.options.values(), *([node.on_exhausted] if node.on_exhausted else [])]
    yield node.on_timeout
    yield node.on_invalid
    yield from (transition.prompt for transition in transitions)
    starts = [transition.target for transition in transitions] + [node.id]
    if node.next is not None:
        starts.append(node.next)
    for start in starts:
        stopped = yield from _walk_prompts(flow, start)
        if stopped is not None and stopped in detours:
            yield from _walk_prompts(flow, detours[stopped])


def _walk_prompts(flow: Flow, node_id: str) -> Generator[Prompt | None, None, str | None]:
    """The prompts said from `node_id` through message nodes; returns the node that stops it."""
    passed: set[str] = set()
    current: str | None = node_id
    while current is not None and current not in passed and current in flow.nodes:
        passed.add(current)
        node = flow.nodes[current]
        yield node.prompt
        if node.kind is not NodeKind.MESSAGE:
            return current
        current = node.next
    return None
