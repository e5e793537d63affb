"""The IVR engine: pure functions from (flow, node, keys, state) to what the caller hears next.

No I/O: the telephony edge renders each Step as TwiML and carries CallState in signed URLs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .errors import BrokenFlow, NotAMenu, UnknownNode
from .model import (
    CallState,
    Flow,
    Gather,
    Hangup,
    Node,
    NodeKind,
    Prompt,
    RequestCallback,
    RouteTo,
    Step,
    Transition,
    Utterance,
)
from .speech import say

__all__ = ["BrokenFlow", "NotAMenu", "UnknownNode", "advance", "collected", "enter", "start"]

SILENCE = "timeout"
WRONG_KEY = "invalid"
ENTERED = "entered"
# What a collect node's Gather ends with: '#' sends the digits typed so far.
FINISH_KEY = "#"


def start(flow: Flow) -> Step:
    """A new call: enter the flow's start node with nothing known about the caller."""
    return _walk(flow, flow.start, CallState(), (), ())


def enter(flow: Flow, node_id: str, state: CallState, preface: Iterable[Utterance] = ()) -> Step:
    """Enter `node_id` afresh (tries at 0), saying `preface` first; walk on to the next input."""
    return _walk(flow, node_id, replace(state, tries=0), tuple(preface), ())


def advance(flow: Flow, node_id: str, digits: str | None, state: CallState) -> Step:
    """Handle a key (or silence, when `digits` is None or empty) at the menu `node_id`."""
    menu = _node(flow, node_id)
    if menu.kind is not NodeKind.MENU:
        raise NotAMenu(f"node '{menu.id}' does not wait for a key")

    key = digits or ""
    if key in menu.options:
        return _take(flow, menu.options[key], state, (f"{menu.id}:{key}",))
    if key in menu.repeat_keys:
        # Asking to hear the menu again is not a mistake: it does not count as a try.
        return _walk(flow, menu.id, state, (), (f"{menu.id}:{key}",))

    # Silence and wrong keys share one count: either way the caller is not getting through.
    # Never record `key` itself: a wrong "key" may be a whole phone number typed on the keypad.
    if key == "":
        return _retry(flow, menu, state, SILENCE, menu.on_timeout)
    return _retry(flow, menu, state, WRONG_KEY, menu.on_invalid)


def collected(
    flow: Flow, node_id: str, valid: bool, state: CallState, silent: bool = False
) -> Step:
    """Handle what was typed at the collect node `node_id`, as the edge judged it.

    `valid`: the edge accepted the entry and put what it needs into `state.vars`; the call goes on.
    Otherwise the entry was wrong (or, with `silent`, nothing was typed): said so, asked again,
    and after max_retries the node's on_exhausted. The digits themselves never come in here.
    """
    node = _node(flow, node_id)
    if node.kind is not NodeKind.COLLECT:
        raise NotAMenu(f"node '{node.id}' does not wait for digits")
    # Silence wins over `valid`: with nothing typed, nothing can have been accepted.
    if silent:
        return _retry(flow, node, state, SILENCE, node.on_timeout)
    if not valid:
        return _retry(flow, node, state, WRONG_KEY, node.on_invalid)
    if node.next is None:
        raise BrokenFlow(f"collect node '{node.id}' has no next node")
    return _walk(flow, node.next, replace(state, tries=0), (), (f"{node.id}:{ENTERED}",))


def _retry(flow: Flow, node: Node, state: CallState, event: str, notice: Prompt | None) -> Step:
    """Silence or a wrong entry: say `notice` and ask again, or take on_exhausted when used up."""
    tries = state.tries + 1
    visited = (f"{node.id}:{event}",)
    if tries <= node.max_retries or node.on_exhausted is None:
        preface = say(flow, notice, _speech_language(flow, node, state), dict(state.vars))
        return _walk(flow, node.id, replace(state, tries=tries), preface, visited)
    return _take(flow, node.on_exhausted, state, visited)


def _take(flow: Flow, transition: Transition, state: CallState, visited: tuple[str, ...]) -> Step:
    """Follow a transition: set language, topic and variables, say its prompt, enter its target."""
    state = replace(
        state,
        language=transition.set_language or state.language,
        topic=transition.set_topic or state.topic,
        tries=0,
    ).with_vars(**transition.set_vars)
    # Said in the language just chosen: "We will continue in Russian" in Russian.
    preface = say(flow, transition.prompt, _caller_language(flow, state), dict(state.vars))
    return _walk(flow, transition.target, state, preface, visited)


def _walk(
    flow: Flow,
    node_id: str,
    state: CallState,
    preface: tuple[Utterance, ...],
    visited: tuple[str, ...],
) -> Step:
    """Say message nodes one after another until a node that waits, routes or hangs up."""
    heard = list(preface)
    path = list(visited)
    passed: set[str] = set()
    current: str | None = node_id
    while True:
        if current is None:
            raise BrokenFlow(f"message node '{path[-1]}' has no next node")
        if current in passed:
            raise BrokenFlow(f"message nodes loop through '{current}' without waiting for a key")
        passed.add(current)
        node = _node(flow, current)
        if node.kind is NodeKind.ROUTE and node.topic is not None:
            # Reaching a route node is choosing its topic, however the caller got there.
            state = replace(state, topic=node.topic)
        path.append(_path_entry(node, state))
        heard.extend(say(flow, node.prompt, _speech_language(flow, node, state), dict(state.vars)))
        if node.kind is NodeKind.MESSAGE:
            current = node.next
            continue
        return Step(
            utterances=tuple(heard), state=state, end=_end(node, state), visited=tuple(path)
        )


def _end(node: Node, state: CallState) -> Gather | RouteTo | Hangup | RequestCallback:
    """How a node that stops the walk ends the step."""
    if node.kind is NodeKind.MENU:
        return Gather(node_id=node.id, timeout_seconds=node.timeout_seconds)
    if node.kind is NodeKind.COLLECT:
        return Gather(
            node_id=node.id,
            timeout_seconds=node.timeout_seconds,
            num_digits=None,
            finish_on_key=FINISH_KEY,
            max_digits=node.max_digits,
        )
    if node.kind is NodeKind.ROUTE:
        # A route without a topic ("try again") goes back to the topic the caller already chose.
        return RouteTo(topic=node.topic or state.topic)
    if node.kind is NodeKind.CALLBACK:
        return RequestCallback()
    return Hangup()


def _path_entry(node: Node, state: CallState) -> str:
    if node.kind is NodeKind.ROUTE:
        topic = node.topic or state.topic
        return f"route:{topic}" if topic else "route"
    return node.id


def _node(flow: Flow, node_id: str) -> Node:
    node = flow.nodes.get(node_id)
    if node is None:
        # Only a well-formed id goes into the message: the id comes from a URL.
        shown = node_id if node_id.isidentifier() and len(node_id) <= 64 else "<malformed>"
        raise UnknownNode(f"flow '{flow.name}' has no node '{shown}'")
    return node


def _speech_language(flow: Flow, node: Node, state: CallState) -> str | None:
    """None (every language) before the caller chose one, or where the node asks for all."""
    return None if node.all_languages else _caller_language(flow, state)


def _caller_language(flow: Flow, state: CallState) -> str | None:
    if state.language is None:
        return None
    # A language the flow does not speak (an old URL after an edit): the flow's default.
    return state.language if state.language in flow.languages else flow.default_language
