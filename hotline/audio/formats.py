"""What an audio file really is (WAV or MP3, rate, channels, length), read from its own bytes.

A file's name says nothing: a text file renamed greeting.mp3 would make Twilio fail the <Play>,
and the caller would hear silence where the prompt should be.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# The hotline's audio: what the phone network carries anyway (8 kHz, one channel). Anything more
# is thrown away on the way to the caller and only makes the file slower for Twilio to fetch.
SAMPLE_RATE = 8000
CHANNELS = 1
CONTENT_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}  # both in Twilio's <Play> list
_WAV_ENCODINGS = {1: "pcm", 3: "float", 6: "a-law", 7: "u-law"}
_WAV_OK = {("pcm", 16), ("a-law", 8), ("u-law", 8)}
_MAX_BYTES = 20 * 1024 * 1024  # a prompt is seconds long; a bigger file is not one


class NotAudio(ValueError):
    """The file is not a WAV or MP3 Twilio can play; the message says what it looks like."""


@dataclass(frozen=True)
class AudioInfo:
    container: str  # "wav" or "mp3"
    encoding: str  # "pcm", "u-law", "a-law", "float", "mp3"
    bits: int  # bits per sample (0 for mp3)
    sample_rate: int
    channels: int
    seconds: float

    def describe(self) -> str:
        """E.g. 'mp3, 8000 Hz, mono, 2.4 s'."""
        channels = "mono" if self.channels == 1 else f"{self.channels} channels"
        encoding = "" if self.container == "mp3" else f" {self.encoding} {self.bits}-bit"
        return (
            f"{self.container}{encoding}, {self.sample_rate} Hz, {channels}, {self.seconds:.1f} s"
        )

    def format_problem(self) -> str | None:
        """Why this is not the hotline's format (mono, 8000 Hz, 16-bit WAV or MP3), or None."""
        wrong = []
        if self.sample_rate != SAMPLE_RATE:
            wrong.append(f"{self.sample_rate} Hz")
        if self.channels != CHANNELS:
            wrong.append(f"{self.channels} channels")
        if self.container == "wav" and (self.encoding, self.bits) not in _WAV_OK:
            wrong.append(f"{self.encoding} {self.bits}-bit samples")
        if self.seconds < 0.2:
            return "has no sound (shorter than 0.2 s)"
        if not wrong:
            return None
        return (
            f"is {', '.join(wrong)}; the hotline's audio is mono, 8000 Hz, 16-bit WAV or MP3 "
            "(`hotline audio add` converts a recording)"
        )


def inspect_file(path: Path) -> AudioInfo:
    """Read `path`'s header; raise NotAudio when it is not a WAV or MP3 file."""
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise NotAudio(f"is {size // 1024 // 1024} MB, too big for a prompt")
        data = path.read_bytes()
    except OSError as exc:
        raise NotAudio(f"cannot be read ({exc.strerror})") from None
    return inspect_bytes(data)


def inspect_bytes(data: bytes) -> AudioInfo:
    """What `data` is; raise NotAudio when it is neither a WAV nor an MP3."""
    if not data:
        raise NotAudio("is empty")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return _wav(data)
    try:
        return _mp3(data)
    except NotAudio:
        if data[:4] == b"RIFF":
            raise NotAudio("is a RIFF file but not WAVE audio") from None
        if data.lstrip()[:1] in (b"<", b"{", b"#") or _looks_like_text(data):
            raise NotAudio("is text, not audio") from None
        raise


def _looks_like_text(data: bytes) -> bool:
    try:
        data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _wav(data: bytes) -> AudioInfo:
    offset = 12
    fmt: tuple[int, int, int, int, int] | None = None
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk == b"fmt " and size >= 16:
            tag, channels, rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == 0xFFFE and size >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is the GUID's
                tag = struct.unpack_from("<H", data, body + 24)[0]
            fmt = (tag, channels, rate, byte_rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise NotAudio("is a WAV file without a format chunk")
            tag, channels, rate, byte_rate, bits = fmt
            if channels == 0 or rate == 0 or byte_rate == 0:
                raise NotAudio("is a WAV file with an impossible format (0 channels or 0 Hz)")
            length = min(size, len(data) - body)
            encoding = _WAV_ENCODINGS.get(tag, f"format {tag}")
            return AudioInfo("wav", encoding, bits, rate, channels, length / byte_rate)
        offset = body + size + (size & 1)  # chunks are padded to an even length
    raise NotAudio("is a WAV file without audio data")


# MPEG audio frame headers: kbit/s by bitrate index, Hz by sample rate index.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame(data: bytes, offset: int) -> tuple[int, int, int, int] | None:
    """(length in bytes, sample rate, channels, samples) of the layer III frame at `offset`."""
    if offset + 4 > len(data):
        return None
    header = struct.unpack_from(">I", data, offset)[0]
    version, layer = (header >> 19) & 3, (header >> 17) & 3
    bitrate_index, rate_index = (header >> 12) & 0xF, (header >> 10) & 3
    if header >> 21 != 0x7FF or version == 1 or layer != 1:
        return None
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    kbps = _BITRATES[1 if version == 3 else 2][bitrate_index]
    rate = _RATES[version][rate_index]
    padding = (header >> 9) & 1
    channels = 1 if (header >> 6) & 3 == 3 else 2
    per_frame = 1152 if version == 3 else 576
    length = per_frame // 8 * kbps * 1000 // rate + padding
    return length, rate, channels, per_frame


def _mp3(data: bytes) -> AudioInfo:
    offset = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = 0
        for byte in data[6:10]:  # a "synchsafe" integer: 7 bits per byte
            size = (size << 7) | (byte & 0x7F)
        offset = 10 + size + (10 if data[5] & 0x10 else 0)
    first = _frame(data, offset)
    # Two frames in a row, or one that ends the file: a stray 0xFFE0 in other data is not enough.
    if first is None or (
        _frame(data, offset + first[0]) is None and offset + first[0] < len(data) - 128
    ):
        raise NotAudio("is neither a WAV nor an MP3 file")
    _length, rate, channels, _samples = first
    samples = 0
    while (frame := _frame(data, offset)) is not None:
        samples += frame[3]
        offset += frame[0]
    return AudioInfo("mp3", "mp3", 0, rate, channels, samples / rate)
