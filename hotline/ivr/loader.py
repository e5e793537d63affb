"""Read IVR flows from YAML files, refusing any flow with a problem, and report every problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..audio.catalog import load_catalog, with_audio
from ..yaml_errors import describe as describe_yaml_error
from .errors import FlowError, FlowProblem
from .model import Flow
from .parse import parse_flow
from .validate import validate_flow

__all__ = ["FlowError", "FlowProblem", "check_directory", "check_file", "load_flow", "load_flows"]

FLOW_SUFFIXES = (".yaml", ".yml")


def load_flow(path: Path) -> Flow:
    """Read and validate one flow file; raise FlowError listing every problem."""
    flow, problems = _read(path)
    if problems or flow is None:
        raise FlowError(problems)
    return with_audio(flow, load_catalog(path.parent))


def load_flows(directory: Path, with_recordings: bool = True) -> dict[str, Flow]:
    """Read and validate every flow file in `directory`, keyed by flow name; raise FlowError.

    With recordings, each prompt plays the audio under directory/audio/ that says its text.
    """
    flows, problems = _read_directory(directory, with_recordings)
    if problems:
        raise FlowError(problems)
    return flows


def check_file(path: Path) -> list[FlowProblem]:
    """Every problem in one flow file (empty when the flow is fine)."""
    return _read(path)[1]


def check_directory(directory: Path) -> list[FlowProblem]:
    """Every problem in the flow files of `directory` (empty when all are fine): `flows check`."""
    return _read_directory(directory)[1]


def flow_files(directory: Path) -> list[Path]:
    """The flow files in `directory`, in name order."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in FLOW_SUFFIXES)


def _read_directory(
    directory: Path, with_recordings: bool = True
) -> tuple[dict[str, Flow], list[FlowProblem]]:
    if not directory.is_dir():
        return {}, [FlowProblem(str(directory), None, "is not a directory")]
    files = flow_files(directory)
    if not files:
        # An empty flows directory would leave the hotline with nothing to say to a caller.
        return {}, [FlowProblem(str(directory), None, "has no flow files (*.yaml, *.yml)")]
    flows: dict[str, Flow] = {}
    problems: list[FlowProblem] = []
    # Recorded and synthesized audio beside the flows (audio/<language>/manifest.yaml).
    catalog = load_catalog(directory) if with_recordings else None
    for path in files:
        flow, found = _read(path)
        problems.extend(found)
        if flow is None:
            continue
        if flow.name in flows:
            other = flows[flow.name].source
            problems.append(
                FlowProblem(str(path), None, f"flow name '{flow.name}' is also used by {other}")
            )
            continue
        flows[flow.name] = flow if catalog is None else with_audio(flow, catalog)
    return flows, problems


def _read(path: Path) -> tuple[Flow | None, list[FlowProblem]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [FlowProblem(file, None, f"cannot be read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        return None, [FlowProblem(file, None, problem)]
    document, problems = parse_yaml(text, file)
    if document is None:
        return None, problems
    parsed = parse_flow(document.data, path)
    problems.extend(parsed.problems)
    if parsed.flow is None:
        return None, problems
    problems.extend(
        validate_flow(
            parsed.flow,
            file,
            declared=parsed.declared,
            # A node that failed to parse hides its ways out; don't call what follows unreachable.
            check_reachable=parsed.all_nodes_parsed,
        )
    )
    return (None if problems else parsed.flow), problems


# --- YAML that refuses duplicate keys ---------------------------------------------------------


@dataclass
class Document:
    """A parsed YAML document (its data may be None: an empty file is valid YAML)."""

    data: Any


@dataclass
class _Duplicate:
    key: str
    line: int
    first_line: int
    mapping: yaml.MappingNode


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that records duplicate mapping keys instead of silently keeping the last.

    A second menu key "1" in a file would otherwise quietly replace the first option.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[_Duplicate] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping as SafeLoader does, noting any key written twice."""
        self._record_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def _record_duplicates(self, node: yaml.MappingNode) -> None:
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            # Compare the written text: 1 and "1" are the same menu key to a caller.
            key, line = str(key_node.value), key_node.start_mark.line + 1
            if key in first:
                self.duplicates.append(_Duplicate(key, line, first[key], node))
            else:
                first[key] = line


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[FlowProblem]]:
    """Parse one YAML document; report syntax errors and duplicate keys with their lines."""
    loader = StrictLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        return None, [FlowProblem(file, None, describe_yaml_error(exc))]
    finally:
        loader.dispose()
    # Keep going after a duplicate key: the staff member gets every problem in one run.
    problems = [_duplicate_problem(dup, root, file) for dup in loader.duplicates]
    return Document(data), problems


def _duplicate_problem(dup: _Duplicate, root: yaml.Node | None, file: str) -> FlowProblem:
    where = f"(line {dup.line}, first at line {dup.first_line})"
    nodes = _nodes_mapping(root)
    if nodes is not None and dup.mapping is nodes:
        return FlowProblem(file, dup.key, f"is defined twice {where}")
    node = None
    if nodes is not None and dup.mapping is not root:
        node = _flow_node_at(nodes, dup.line)
    return FlowProblem(file, node, f"duplicate key '{dup.key}' {where}")


def _nodes_mapping(root: yaml.Node | None) -> yaml.MappingNode | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value_node in root.value:
        if key_node.value == "nodes" and isinstance(value_node, yaml.MappingNode):
            return value_node
    return None


def _flow_node_at(nodes: yaml.MappingNode, line: int) -> str | None:
    """The id of the flow node whose YAML holds `line` (1-based): the last to start before it."""
    if line > nodes.end_mark.line + 1:
        return None
    found = None
    for key_node, _ in nodes.value:
        if key_node.start_mark.line + 1 <= line:
            found = str(key_node.value)
    return found
