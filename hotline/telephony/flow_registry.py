"""The app's IVR flows, loaded and checked once at start-up (hotline.startup), and the nodes the
telephony edge enters by name, which every flow directory must have."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from ..ivr.model import Flow
from ..ivr.reach import steps_saying_runtime_variables
from .rendered import RenderedSteps

MAIN_FLOW = "default"
VOLUNTEER_FLOW = "volunteer"  # what a volunteer's phone hears: the whisper
# Nodes the telephony edge enters by name; a flow directory without them cannot serve calls.
REQUIRED_NODES = ("nobody_available", "technical_difficulty", "restart")
REQUIRED_VOLUNTEER_NODES = ("still_trying", "whisper_accept", "whisper_declined")


def missing_nodes(flows: dict[str, Flow], flows_dir: Path) -> list[str]:
    """A problem per flow or node the edge needs and the (valid) flows lack."""
    from .consent import NODES_ENTERED_BY_NAME, OFFER

    main = flows.get(MAIN_FLOW)
    if main is None:
        return [f"{flows_dir}: no flow named '{MAIN_FLOW}' (the main menu)"]
    problems = []
    required = REQUIRED_NODES + (NODES_ENTERED_BY_NAME if OFFER in main.nodes else ())
    missing = [node for node in required if node not in main.nodes]
    if missing:
        problems.append(f"{main.source}: missing node(s) {', '.join(missing)}")
    volunteer_nodes = flows[VOLUNTEER_FLOW].nodes if VOLUNTEER_FLOW in flows else {}
    lacking = [node for node in REQUIRED_VOLUNTEER_NODES if node not in volunteer_nodes]
    if lacking:
        problems.append(f"{flows_dir}: flow '{VOLUNTEER_FLOW}' lacks node(s) {', '.join(lacking)}")
    return problems


def init_app(app: Flask, flows: dict[str, Flow]) -> None:
    """Serve these flows (loaded and checked by hotline.startup.load_files)."""
    from .consent import DETOURS

    app.extensions["flows"] = flows
    # Read from the flows and set with them: new flows never meet what was read from the old.
    app.extensions["runtime_steps"] = {
        name: steps_saying_runtime_variables(flow, DETOURS) for name, flow in flows.items()
    }
    app.extensions["rendered_steps"] = RenderedSteps()


def current_flow(name: str = MAIN_FLOW) -> Flow:
    """The named flow (the main menu by default)."""
    return current_app.extensions["flows"][name]


def says_runtime_variables(node_id: str, name: str = MAIN_FLOW) -> bool:
    """Whether the step handling input at `node_id` may say a runtime variable ({last_two})."""
    return node_id in current_app.extensions["runtime_steps"][name]


def rendered_steps() -> RenderedSteps:
    """The answers rendered from the flows being served (made anew with them)."""
    return current_app.extensions["rendered_steps"]
