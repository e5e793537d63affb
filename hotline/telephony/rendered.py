"""Rendered TwiML of the steps whose answer the flow alone decides, kept per set of flows.

A menu step at a node that says no runtime variable, for a call with no call variables, is the
same TwiML for every call that reaches it with the same key, language, topic and tries: the
engine is pure and the URLs depend only on PUBLIC_BASE_URL and that state. Such answers are
rendered once per process. The store is made with the flows (flow_registry.init_app), so other
flows never meet an answer rendered from these.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from ..ivr.model import Step

# Far more than a flow's menus x keys x languages x topics x tries; past it nothing more is kept
# (a URL's topic is only checked for its shape, so the keys are not bounded by the flow alone).
LIMIT = 4096


class RenderedSteps:
    """(step, TwiML) by a key that fully determines them; rendered on first use."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._found: dict[Hashable, tuple[Step, str]] = {}
        self._limit = limit

    def get(self, key: Hashable, render: Callable[[], tuple[Step, str]]) -> tuple[Step, str]:
        """The answer kept for `key`, or render() (kept while there is room)."""
        found = self._found.get(key)
        if found is None:
            # Two threads may both render a new key: the same answer, harmlessly, twice.
            found = render()
            if len(self._found) < self._limit:
                self._found[key] = found
        return found

    def __len__(self) -> int:
        return len(self._found)
