"""The Azure Speech engine against a local HTTP stand-in that checks each request's shape as
Azure's text-to-speech REST API documents it (the real service is out of reach from here)."""

from __future__ import annotations

import io
import math
import shutil
import struct
import threading
import wave
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hotline.audio.formats import inspect_file
from hotline.audio.manifest import read_manifest
from hotline.cli import main

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-azure-key-0123"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def tone_wav() -> bytes:
    """What Azure sends for riff-8khz-16bit-mono-pcm: a RIFF WAV, 8 kHz, 16-bit, mono."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 5))) for i in range(4000)))
    return out.getvalue()


class StandIn(BaseHTTPRequestHandler):
    texts: list[tuple[str, str]] = []  # (voice, text) of every request that had the right shape
    problems: list[str] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        wanted = {
            "Ocp-Apim-Subscription-Key": KEY,
            "Content-Type": "application/ssml+xml",
            "X-Microsoft-OutputFormat": "riff-8khz-16bit-mono-pcm",
        }
        for header, value in wanted.items():
            if self.headers.get(header) != value:
                self.problems.append(f"{header}: {self.headers.get(header)!r}")
        if not self.headers.get("User-Agent"):
            self.problems.append("no User-Agent")
        if self.path != "/cognitiveservices/v1":
            self.problems.append(f"path {self.path}")
        speak = ET.fromstring(body)  # noqa: S314 - our own client's request
        voice = speak.find("voice")
        if speak.tag != "speak" or speak.get("version") != "1.0" or voice is None:
            self.problems.append(f"not SSML: {body[:80]!r}")
        elif speak.get(XML_LANG) != "kk-KZ" or voice.get(XML_LANG) != "kk-KZ":
            self.problems.append("xml:lang is not kk-KZ")
        else:
            self.texts.append((voice.get("name") or "", voice.text or ""))
        if self.status != 200:
            self.send_response(self.status)
            self.end_headers()
            return
        audio = tone_wav()
        self.send_response(200)
        self.send_header("Content-Type", "audio/x-wav")
        self.send_header("Content-Length", str(len(audio)))
        self.end_headers()
        self.wfile.write(audio)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def azure(monkeypatch):
    StandIn.texts, StandIn.problems, StandIn.status = [], [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AZURE_SPEECH_KEY", KEY)
    monkeypatch.setenv("AZURE_SPEECH_REGION", "westeurope")
    monkeypatch.setenv(
        "AZURE_SPEECH_ENDPOINT", f"http://127.0.0.1:{server.server_port}/cognitiveservices/v1"
    )
    yield StandIn
    server.shutdown()
    server.server_close()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    flows = tmp_path / "ivr_flows"
    flows.mkdir()
    shutil.copy(ROOT / "ivr_flows" / "volunteer.yaml", flows)
    return flows


def build(flows: Path) -> int:
    return main(["audio", "build", "--language", "kk", "--engine", "azure", "--flows", str(flows)])


def test_azure_builds_every_prompt_with_a_kazakh_neural_voice(azure, flows):
    assert build(flows) == 0

    assert azure.problems == []
    assert len(azure.texts) == 27  # the volunteer flow's Kazakh texts, transfer menu and digits
    assert {voice for voice, _ in azure.texts} == {"kk-KZ-AigulNeural"}
    assert (
        "kk-KZ-AigulNeural",
        "Қабылдау үшін бірді басыңыз. Бас тарту үшін телефонды қойыңыз.",
    ) in (azure.texts)
    entries = read_manifest(flows / "audio" / "kk")
    assert {e.engine for e in entries.values()} == {"azure speech (kk-KZ-AigulNeural)"}
    info = inspect_file(flows / "audio" / "kk" / "volunteer.whisper_accept.mp3")
    assert (info.container, info.sample_rate, info.channels) == ("mp3", 8000, 1)


def test_a_refused_key_is_said_plainly_and_nothing_is_written(azure, flows, capsys):
    azure.status = 401
    assert build(flows) == 1
    err = capsys.readouterr().err
    assert "Azure Speech answered HTTP 401: the key was refused" in err
    assert "stopped after 3 failures in a row" in err
    assert len(azure.texts) == 3  # it stops asking a service that refuses it
    assert not (flows / "audio" / "kk").exists() or not list((flows / "audio" / "kk").iterdir())
    assert KEY not in err


def test_without_a_key_the_engine_says_which_variables_to_set(flows, capsys, monkeypatch):
    for name in ("AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION", "AZURE_SPEECH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert build(flows) == 1
    assert "set AZURE_SPEECH_KEY and AZURE_SPEECH_REGION" in capsys.readouterr().err
