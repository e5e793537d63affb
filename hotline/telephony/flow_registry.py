"""The app's IVR flows, loaded and validated once at start-up (invalid flows refuse to start)."""

from __future__ import annotations

from flask import Flask, current_app

from ..ivr.loader import load_flows
from ..ivr.model import Flow

MAIN_FLOW = "default"
# Nodes the telephony edge enters by name; a flow directory without them cannot serve calls.
REQUIRED_NODES = ("nobody_available", "technical_difficulty", "restart")


class FlowSetupError(RuntimeError):
    """The flows directory loads but lacks something the hotline needs to serve calls."""


def init_app(app: Flask) -> None:
    """Load every flow in the flows directory; raise (and so refuse to start) on any problem."""
    settings = app.config["SETTINGS"]
    flows = load_flows(settings.flows_dir)
    main = flows.get(MAIN_FLOW)
    if main is None:
        raise FlowSetupError(f"{settings.flows_dir}: no flow named '{MAIN_FLOW}' (the main menu)")
    from .consent import NODES_ENTERED_BY_NAME, OFFER

    required = REQUIRED_NODES + (NODES_ENTERED_BY_NAME if OFFER in main.nodes else ())
    missing = [node for node in required if node not in main.nodes]
    if missing:
        raise FlowSetupError(f"{main.source}: missing node(s) {', '.join(missing)}")
    app.extensions["flows"] = flows


def current_flow(name: str = MAIN_FLOW) -> Flow:
    """The named flow (the main menu by default)."""
    return current_app.extensions["flows"][name]
