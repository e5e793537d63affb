"""Audio files are judged by their bytes: WAV and MP3 headers, rates, channels, length."""

from __future__ import annotations

import io
import struct
import wave

import pytest

from hotline.audio.formats import NotAudio, inspect_bytes
from hotline.audio.spots import spoken_parts
from hotline.ivr.model import Flow


def wav(rate: int = 8000, channels: int = 1, width: int = 2, seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\0" * int(rate * seconds) * channels * width)
    return out.getvalue()


def mp3_frames(count: int, header: int = 0xFFE3_28C4) -> bytes:
    """MPEG-2.5 layer III, 16 kbit/s, 8000 Hz, mono: 144-byte frames of 576 samples."""
    frame = struct.pack(">I", header) + b"\0" * 140
    return b"".join(frame for _ in range(count))


def test_a_phone_quality_wav_is_fine():
    info = inspect_bytes(wav())
    assert (info.container, info.sample_rate, info.channels, info.bits) == ("wav", 8000, 1, 16)
    assert info.seconds == pytest.approx(1.0)
    assert info.format_problem() is None


def test_a_studio_wav_is_audio_in_the_wrong_format():
    info = inspect_bytes(wav(rate=44100, channels=2))
    assert info.format_problem().startswith("is 44100 Hz, 2 channels;")


def test_an_8_bit_pcm_wav_is_the_wrong_sample_format():
    assert "pcm 8-bit samples" in inspect_bytes(wav(width=1)).format_problem()


def test_an_mp3_is_recognized_by_its_frames_and_timed_by_counting_them():
    info = inspect_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + mp3_frames(100))
    assert (info.container, info.sample_rate, info.channels) == ("mp3", 8000, 1)
    assert info.seconds == pytest.approx(100 * 576 / 8000)
    assert info.format_problem() is None


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"<html><body>Not Found</body></html>", "is text, not audio"),
        (b"hello, I am a text file renamed .mp3\n", "is text, not audio"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "is a RIFF file but not WAVE audio"),
        (b"RIFF\x04\x00\x00\x00WAVE", "is a WAV file without audio data"),
        (b"\xff\xe3\x18\xc4" + b"\x00" * 10 + b"\x89PNG" * 100, "is neither a WAV nor an MP3"),
        (b"", "is empty"),
    ],
)
def test_what_is_not_audio_is_said_plainly(data, said):
    with pytest.raises(NotAudio, match=said):
        inspect_bytes(data)


def test_a_silent_stub_has_no_sound():
    assert inspect_bytes(wav(seconds=0.1)).format_problem() == "has no sound (shorter than 0.2 s)"


def flow(**fields) -> Flow:
    base = dict(name="f", source=None, start="a", languages=("kk",), default_language="kk",
                nodes={}, voices={})  # fmt: skip
    return Flow(**(base | fields))


def test_a_text_with_a_runtime_variable_is_recorded_in_parts_around_it():
    f = flow(variables={"emergency": "112"}, runtime_variables=("last_two",))
    parts = spoken_parts(f, "Соңғы екі цифры: {last_two}. Қауіп төнсе, {emergency} нөміріне.")
    assert parts == ["Соңғы екі цифры:", "{last_two}", "Қауіп төнсе, 1 1 2 нөміріне."]


def test_a_text_ending_in_a_runtime_variable_has_no_empty_last_part():
    f = flow(runtime_variables=("last_two",))
    assert spoken_parts(f, "Нөмірдің соңы: {last_two}.") == ["Нөмірдің соңы:", "{last_two}"]


def test_every_kazakh_prompt_of_the_shipped_flows_and_callbacks_plays_audio():
    from pathlib import Path

    from hotline.audio.spots import flow_spots
    from hotline.callbacks.prompts import load_prompts
    from hotline.ivr.loader import load_flows

    root = Path(__file__).resolve().parents[2]
    flows = load_flows(root / "ivr_flows")
    silent = [
        spot.slot
        for flow in flows.values()
        for spot, prompt in flow_spots(flow)
        if not (prompt.texts["kk"].audio or prompt.texts["kk"].audio_parts)
    ]
    assert silent == []
    assert {spot.source for flow in flows.values() for spot, _ in flow_spots(flow)} == {
        "default",
        "volunteer",  # the whisper a Kazakh-speaking volunteer hears
        "line",  # what a Kazakh-speaking caller hears while waiting in line
    }
    prompts = load_prompts(root / "config" / "callback_prompts.yaml", root / "ivr_flows")
    assert [name for name, texts in prompts.texts.items() if not texts["kk"].audio] == []
