"""`hotline audio script`: what the voice talent reads, as CSV and as a printable page."""

from __future__ import annotations

import csv
import html
import io

from .status import PieceState, Status

COLUMNS = ("number", "save_as", "flow", "node", "prompt", "text", "also_said_at", "status")


def _where(state: PieceState) -> tuple[str, str, str, str]:
    first, others = state.piece.spots[0], state.piece.spots[1:]
    also = "; ".join(f"{s.source} / {s.node} ({s.what})" for s in others)
    return first.source, first.node, first.what, also


def script_csv(states: list[PieceState], fmt: str = "wav") -> str:
    """One row per piece, in flow order: the file to save it as, where it is said, its text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for number, state in enumerate(states, start=1):
        flow, node, what, also = _where(state)
        writer.writerow(
            (number, f"{state.piece.slot}.{fmt}", flow, node, what, state.piece.text, also,
             _status(state))
        )  # fmt: skip
    return out.getvalue()


def _status(state: PieceState) -> str:
    if state.status is Status.SYNTHESIZED:
        return "synthesized draft: to be recorded"
    if state.status is Status.STALE:
        return "text changed: record again"
    if state.status is Status.MISSING:
        return "no audio yet"
    return "recorded"


_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.4em; } p.note { max-width: 48em; }
section { border-top: 1px solid #999; padding: 0.8em 0; page-break-inside: avoid; }
.file { font-family: "DejaVu Sans Mono", monospace; font-weight: bold; }
.where { color: #444; font-size: 0.9em; }
.text { font-size: 1.5em; line-height: 1.5; margin: 0.4em 0; }
@media print { body { margin: 1cm; } }
"""


def script_html(states: list[PieceState], language: str, fmt: str = "wav") -> str:
    """A page to print: one block per piece with its number, file name, place and large text."""
    blocks = []
    for number, state in enumerate(states, start=1):
        flow, node, what, also = _where(state)
        where = f"{flow} / {node} ({what})" + (f"; also: {also}" if also else "")
        blocks.append(
            "<section>"
            f'<div><b>{number}.</b> <span class="file">{html.escape(state.piece.slot)}.{fmt}</span>'
            f" — {html.escape(_status(state))}</div>"
            f'<div class="where">{html.escape(where)}</div>'
            f'<p class="text" lang="{language}">{html.escape(state.piece.text)}</p>'
            "</section>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>Recording script ({language})</title><style>{_STYLE}</style></head><body>"
        f"<h1>Recording script: {language}, {len(states)} prompts</h1>"
        '<p class="note">Read each text exactly as written, calmly and clearly; numbers digit by '
        "digit as written (1 1 2). Save each recording, mono, as the file name shown, then: "
        f"<code>hotline audio add --language {language} FILES</code>.</p>"
        + "".join(blocks)
        + "</body></html>\n"
    )
