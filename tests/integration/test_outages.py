"""A call never goes silent: with the database or Redis down, the IVR still answers, quickly."""

from __future__ import annotations

import time

import pytest
from support import TwilioWebhooks, test_env
from twiml_helpers import all_speech, gather, parse, path_and_query

from hotline import create_app
from hotline.settings import Settings

DEAD_POSTGRES = "postgresql://postgres@127.0.0.1:1/hotline"  # nothing listens on port 1
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(params=["database down", "redis down", "both down"])
def broken_app(request, sqlite_url):
    overrides = {
        "database down": {"DATABASE_URL": DEAD_POSTGRES, "REDIS_URL": DEAD_REDIS},
        "redis down": {"DATABASE_URL": sqlite_url, "REDIS_URL": DEAD_REDIS},
        "both down": {"DATABASE_URL": DEAD_POSTGRES, "REDIS_URL": DEAD_REDIS},
    }[request.param]
    if request.param == "database down":
        overrides.pop("REDIS_URL")
    app = create_app(Settings.from_env(test_env(**overrides)))
    yield app
    app.extensions["db"].dispose()


def test_a_whole_menu_walk_works_while_a_service_is_down(broken_app):
    twilio = TwilioWebhooks(broken_app.test_client())
    params = twilio.call_params()
    started = time.monotonic()
    response = twilio.post("/twilio/voice", params)
    assert response.status_code == 200
    root = parse(response.data)
    for digits in ("2", "1"):
        response = twilio.post(path_and_query(gather(root).get("action")), params, Digits=digits)
        assert response.status_code == 200
        root = parse(response.data)
    route = twilio.post(path_and_query(root.find("./Redirect").text), params)
    assert route.status_code == 200
    final = parse(route.data)
    if gather(final) is not None:  # the callback offer: 2 gives the emergency numbers
        offer = gather(final).get("action")
        final = parse(twilio.post(path_and_query(offer), params, Digits="2").data)
    assert "112" in all_speech(final).replace(" ", "")
    # Four webhooks, each well inside Twilio's 15 s limit even with a dead service.
    assert time.monotonic() - started < 10


def test_the_fallback_needs_neither_database_nor_redis(broken_app):
    twilio = TwilioWebhooks(broken_app.test_client())
    response = twilio.post("/twilio/fallback", twilio.call_params(), ErrorCode="11200")
    assert response.status_code == 200
    assert "112" in all_speech(parse(response.data)).replace(" ", "")


def test_the_status_callback_is_acknowledged_while_the_database_is_down(broken_app):
    twilio = TwilioWebhooks(broken_app.test_client())
    response = twilio.post("/twilio/status", dict(twilio.call_params(), CallStatus="completed"))
    assert response.status_code == 200
