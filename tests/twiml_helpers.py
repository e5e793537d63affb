"""Reading TwiML answers the way a test reads a call: what is said, gathered and where it goes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit


def parse(body: str | bytes) -> ET.Element:
    """The <Response> element; fails the test if the body is not TwiML."""
    root = ET.fromstring(body)  # noqa: S314 - our own server's answer
    assert root.tag == "Response", body
    return root


def said(root: ET.Element) -> list[str]:
    """Every <Say> text, in order, including those nested in <Gather>."""
    return [(e.text or "").strip() for e in root.iter("Say")]


def said_languages(root: ET.Element) -> list[str]:
    return [e.get("language", "") for e in root.iter("Say")]


def played(root: ET.Element) -> list[str]:
    """The path of every <Play> URL, in order (the ?v= content hash left out)."""
    return [urlsplit((e.text or "").strip()).path for e in root.iter("Play")]


def all_speech(root: ET.Element) -> str:
    return " ".join(said(root))


def gather(root: ET.Element) -> ET.Element | None:
    found = root.findall("./Gather")
    return found[0] if found else None


def query(url: str) -> dict[str, str]:
    """The query parameters of an action URL, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def next_url(root: ET.Element) -> str | None:
    """Where the call goes after this document: the Gather's action or the Redirect."""
    g = gather(root)
    if g is not None:
        return g.get("action")
    redirect = root.find("./Redirect")
    return redirect.text if redirect is not None else None


def ends_call(root: ET.Element) -> bool:
    return root.find("./Hangup") is not None
