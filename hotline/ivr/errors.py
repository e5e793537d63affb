"""What can go wrong with a flow file, and with a step the telephony edge asks for."""

from __future__ import annotations

from dataclasses import dataclass


class IvrError(Exception):
    """Base of the IVR core's errors."""


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, named by file and (when it has one) node."""

    file: str
    node: str | None
    problem: str

    def __str__(self) -> str:
        if self.node is None:
            return f"{self.file}: {self.problem}"
        return f"{self.file}: node '{self.node}': {self.problem}"


class FlowError(IvrError):
    """One or more flow files are invalid; the hotline refuses to serve them."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class UnknownNode(IvrError, LookupError):
    """A step names a node the flow does not have (a changed flow, a mangled URL).

    The edge should restart the menu politely. The message never carries what the caller pressed.
    """


class NotAMenu(UnknownNode):
    """Input arrived for a node that does not wait for a key.

    A subclass of UnknownNode because the edge handles both alike: the call's place is lost.
    """


class BrokenFlow(IvrError):
    """A flow that skipped validation leads nowhere (a dead end or a loop without input)."""
