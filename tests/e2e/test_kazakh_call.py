"""A Kazakh call through a real gunicorn: after pressing 1, only Kazakh audio, never a <Say>."""

from __future__ import annotations

import hashlib
import urllib.request
from urllib.parse import parse_qs, urlsplit

from support import AUTH_TOKEN

from hotline.simulate import SimulatedCall, scripted

CALLER = "+77017770046"


def test_a_caller_who_presses_1_hears_only_kazakh_audio_through_the_callback_consent(server):
    base_url, _env, _log = server
    call = SimulatedCall(base_url, AUTH_TOKEN, caller=CALLER)
    # Kazakh; silence, a wrong key and the emergency numbers at the topic menu; the violence
    # line (nobody on shift: the callback offer); a callback to this number, mornings, and yes.
    heard = call.run(scripted(["1", None, "7", "0", "1", "1", "1", "2", "1"]))

    assert all(e.status == 200 for e in call.exchanges), [(e.url, e.status) for e in call.exchanges]
    first_gather = next(i for i, h in enumerate(heard) if h.kind == "gather")
    after_pressing_1 = heard[first_gather + 1 :]
    assert [h.text for h in after_pressing_1 if h.kind == "say"] == []
    played = [
        urlsplit(h.text).path.rsplit("/", 1)[-1] for h in after_pressing_1 if h.kind == "play"
    ]
    assert played == [
        "default.topic.mp3",
        "default.topic.on_timeout.mp3",
        "default.topic.mp3",
        "default.language.on_invalid.mp3",  # the same "wrong key" text: one recording
        "default.topic.mp3",
        "default.emergency_numbers.mp3",
        "default.topic.mp3",
        "default.route_violence.mp3",
        "default.callback_offer.mp3",
        "default.callback_number.part1.mp3",
        "default.digit_4.mp3",  # the caller's number ends in 46
        "default.digit_6.mp3",
        "default.callback_number.part2.mp3",
        "default.callback_window.mp3",
        "default.callback_identify.mp3",
        "default.callback_confirmed_morning.mp3",
    ]
    assert heard[-1].kind == "hangup"


def test_each_played_url_serves_mp3_whose_hash_is_in_the_url(server):
    base_url, _env, _log = server
    call = SimulatedCall(base_url, AUTH_TOKEN, caller=CALLER)
    heard = call.run(scripted(["1", "0"]))
    urls = {h.text for h in heard if h.kind == "play"}
    assert len(urls) >= 3  # the greeting, the language menu, the emergency numbers...
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our test server
            body = response.read()
            assert response.headers["Content-Type"] == "audio/mpeg"
        version = parse_qs(urlsplit(url).query)["v"][0]
        assert hashlib.sha256(body).hexdigest().startswith(version)
        assert body[:3] == b"ID3" or body[0] == 0xFF  # an MP3 frame, not an HTML error page
