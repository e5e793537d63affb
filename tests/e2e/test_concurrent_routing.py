"""Under many simultaneous callers, no volunteer's phone is rung for two calls at once."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import AUTH_TOKEN

from hotline.simulate import SimulatedCall

VOLUNTEERS = 8
CALLERS = 40
ALWAYS = '[{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00"}]'


@pytest.fixture(scope="module")
def crowded_server(server, tmp_path_factory):
    base_url, env, _log = server
    rows = "\n".join(
        f'  - {{handle: v{i}, display_name: V{i}, phone: "+7701333{i:04d}", roles: [lawyer],'
        f" topics: [labor], languages: [ru], shifts: {ALWAYS}}}"
        for i in range(VOLUNTEERS)
    )
    roster = tmp_path_factory.mktemp("roster") / "roster.yaml"
    roster.write_text("volunteers:\n" + rows + "\n")
    hotline = str(Path(sys.executable).parent / "hotline")
    subprocess.run(
        [hotline, "roster", "import", str(roster)], env={**os.environ, **env}, check=True
    )
    return base_url


def reach_dial(base_url: str) -> list[str]:
    """Walk to the routing step (Russian, labor) and return the numbers the answer dials."""
    call = SimulatedCall(base_url, AUTH_TOKEN, caller="+77015550999")
    url = f"{base_url}/twilio/voice"
    extra: dict[str, str] = {}
    keys = ["2", "3"]
    for _ in range(6):
        root = ET.fromstring(call.post(url, extra).body)
        gather, redirect = root.find("./Gather"), root.find("./Redirect")
        if gather is not None and keys:
            url, extra = gather.get("action"), {"Digits": keys.pop(0)}
        elif redirect is not None:
            url, extra = redirect.text, {}
        else:
            return [n.text for n in root.iter("Number")]
    return []


def test_forty_simultaneous_callers_never_share_a_volunteer(crowded_server):
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        results = list(pool.map(lambda _: reach_dial(crowded_server), range(CALLERS)))
    dialed = [number for numbers in results for number in numbers]
    # Every volunteer rings exactly once; the other callers hear that nobody is free.
    assert len(dialed) == len(set(dialed)) == VOLUNTEERS
    assert sum(1 for numbers in results if not numbers) == CALLERS - VOLUNTEERS
