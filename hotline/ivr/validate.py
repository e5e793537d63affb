"""Check a flow's graph: every target exists, every node is reachable, no caller gets stuck."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from .errors import FlowProblem
from .model import Flow, Node, NodeKind, Transition


def validate_flow(
    flow: Flow,
    file: str,
    declared: Collection[str] = (),
    check_reachable: bool = True,
) -> list[FlowProblem]:
    """Problems in the flow's graph; `declared` names nodes that exist but failed to parse."""
    problems: list[FlowProblem] = []

    def report(node: str | None, problem: str) -> None:
        problems.append(FlowProblem(file, node, problem))

    known = set(flow.nodes) | set(declared)
    if flow.start not in known:
        report(None, f"start targets unknown node '{flow.start}'")
    for entry in flow.entry_points:
        if entry not in known:
            report(None, f"entry_points: '{entry}' is not a node of this flow")
    for node in flow.nodes.values():
        for label, target in edges(node):
            if target not in known:
                report(node.id, f"{label} targets unknown node '{target}'")
    if check_reachable:
        reached = reachable(flow)
        for node_id in flow.nodes:
            if node_id not in reached:
                report(node_id, "unreachable: no path leads here from start or an entry point")
    for loop in message_loops(flow):
        path = " -> ".join((*loop, loop[0]))
        report(loop[0], f"dead end: messages loop forever ({path}) without a menu to press a key")
    for node_id in sorted(routes_before_a_topic(flow)):
        report(
            node_id,
            "dead end: route node has no topic, and a call reaches it from start before "
            "choosing one (give it a topic)",
        )
    return problems


def edges(node: Node) -> Iterator[tuple[str, str]]:
    """(label, target node id) for every way out of `node`."""
    return ((label, transition.target) for label, transition in _transitions(node))


def _transitions(node: Node) -> Iterator[tuple[str, Transition]]:
    if node.kind in (NodeKind.MESSAGE, NodeKind.COLLECT) and node.next is not None:
        yield "next", Transition(target=node.next)
    for key, transition in node.options.items():
        yield f"option '{key}'", transition
    if node.on_exhausted is not None:
        yield "on_exhausted", node.on_exhausted


def routes_before_a_topic(flow: Flow) -> set[str]:
    """Route nodes without a topic that a call reaches from start before any topic is chosen.

    Such a node re-routes to the call's topic ("try again"); from start there is none yet.
    Entry points are left out: the code that enters them (routing) knows the call's topic.
    """
    found: set[str] = set()
    seen: set[str] = set()
    pending = [flow.start]
    while pending:
        node_id = pending.pop()
        node = flow.nodes.get(node_id)
        if node is None or node_id in seen:
            continue
        seen.add(node_id)
        if node.kind is NodeKind.ROUTE and node.topic is None:
            found.add(node_id)
        pending.extend(t.target for _, t in _transitions(node) if t.set_topic is None)
    return found


def reachable(flow: Flow) -> set[str]:
    """Node ids a call can reach from start, or from the entry points routing and the edge use."""
    seen: set[str] = set()
    pending = [flow.start, *flow.entry_points]
    while pending:
        node_id = pending.pop()
        node = flow.nodes.get(node_id)
        if node is None or node_id in seen:
            continue
        seen.add(node_id)
        pending.extend(target for _, target in edges(node))
    return seen


def message_loops(flow: Flow) -> list[tuple[str, ...]]:
    """Cycles of message nodes only: a caller would hear them forever, never asked for a key."""
    loops: list[tuple[str, ...]] = []
    found: set[frozenset[str]] = set()
    for node_id in flow.nodes:
        chain: list[str] = []
        current: str | None = node_id
        while current is not None and current not in chain:
            node = flow.nodes.get(current)
            if node is None or node.kind is not NodeKind.MESSAGE:
                break
            chain.append(current)
            current = node.next
        if current is not None and current in chain:
            loop = tuple(chain[chain.index(current) :])
            if frozenset(loop) not in found:
                found.add(frozenset(loop))
                loops.append(loop)
    return loops
