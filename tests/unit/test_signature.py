"""The URLs a Twilio signature is checked against: twilio's own set, the published one first."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from hotline.telephony.signature import sign, signed_urls

TOKEN = "test-auth-token-0123456789abcdef"
PARAMS = {"CallSid": "CA" + "1" * 32, "Digits": "2"}
PUBLISHED = [
    "https://hotline.example.org/twilio/voice/step?node=topic&lang=ru",
    "https://hotline.example.org:443/twilio/voice",
    "http://127.0.0.1:5000/twilio/voice/step?node=language&tries=0",
    "http://hotline.example.org/twilio/voice",
]
SIGNED_OVER = [
    "https://hotline.example.org/twilio/voice/step?node=topic&lang=ru",
    "https://hotline.example.org:443/twilio/voice/step?node=topic&lang=ru",
    "https://hotline.example.org:8443/twilio/voice/step?node=topic&lang=ru",
    "https://hotline.example.org/twilio/voice",
    "https://hotline.example.org:443/twilio/voice",
    "http://hotline.example.org/twilio/voice",
    "http://hotline.example.org:80/twilio/voice",
    "http://127.0.0.1:5000/twilio/voice/step?node=language&tries=0",
    "http://127.0.0.1/twilio/voice/step?node=language&tries=0",
    "http://127.0.0.1:5001/twilio/voice/step?node=language&tries=0",
    "https://evil.example.com/twilio/voice",
]


@pytest.mark.parametrize("published", PUBLISHED)
def test_the_published_url_is_checked_first(published):
    # A genuine request is signed over the URL we gave Twilio: one HMAC, port or no port.
    assert signed_urls(published)[0] == published
    assert len(signed_urls(published)) == len(set(signed_urls(published)))


@pytest.mark.parametrize("published", PUBLISHED)
@pytest.mark.parametrize("signed_over", SIGNED_OVER)
def test_a_signature_is_accepted_exactly_when_twilios_validator_accepts_it(published, signed_over):
    signature = sign(signed_over, PARAMS, TOKEN)

    ours = any(sign(url, PARAMS, TOKEN) == signature for url in signed_urls(published))

    assert ours == RequestValidator(TOKEN).validate(published, PARAMS, signature)
