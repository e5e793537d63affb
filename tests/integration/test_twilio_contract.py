"""Our REST calls to Twilio, checked against Twilio's own OpenAPI spec by Stoplight Prism.

Prism answers 422 when a request does not match the spec (a missing or misspelt parameter, a
wrong type); a 2xx means Twilio's contract accepts what the hotline sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import test_env
from prism import running_prism

from hotline.callbacks.runtime import DialError
from hotline.calllog.twilio_purge import PurgeError
from hotline.settings import Settings
from hotline.telephony.rest_client import BaseUrlHttpClient, TwilioCalls, make_twilio_client

ACCOUNT = "AC" + "1" * 32
CALL_URL = "https://hotline.example.org/twilio/callback/volunteer?request=1&attempt=1"
STATUS_URL = "https://hotline.example.org/twilio/callback/volunteer-status?request=1&attempt=1"


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = Path(tmp_path_factory.mktemp("prism")) / "prism.log"
    with running_prism(log) as url:
        yield url


def calls_through(prism_url: str) -> TwilioCalls:
    settings = Settings.from_env(test_env(TWILIO_API_BASE_URL=prism_url))
    return TwilioCalls(make_twilio_client(settings), settings.hotline_phone_number)


def test_calling_a_volunteer_with_machine_detection_matches_twilios_contract(
    prism_url: str,
) -> None:
    sid = calls_through(prism_url).call_volunteer(
        to="+77011110001", url=CALL_URL, status_callback=STATUS_URL, timeout=25
    )
    assert sid.startswith("CA")


def test_hanging_up_a_call_matches_twilios_contract(prism_url: str) -> None:
    calls_through(prism_url).hang_up("CA" + "a" * 32)  # raises DialError on a 4xx


def test_a_request_that_breaks_the_contract_is_refused(prism_url: str) -> None:
    # The control: Prism does validate. Calls.create without From (and without Url) is invalid.
    client = make_twilio_client(Settings.from_env(test_env(TWILIO_API_BASE_URL=prism_url)))
    response = client.http_client.request(
        "POST",
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
        data={"To": "+77011110001"},
        auth=(ACCOUNT, "token"),
    )
    assert response.status_code == 422
    assert "From" in response.text


def test_a_twilio_edge_and_region_still_reach_the_mock(
    prism_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # twilio-python turns api.twilio.com into api.sydney.au1.twilio.com from these variables.
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    calls = calls_through(prism_url)
    assert calls.call_volunteer(
        to="+77011110001", url=CALL_URL, status_callback=STATUS_URL, timeout=25
    ).startswith("CA")


def test_the_rewrite_keeps_path_and_query_and_leaves_other_hosts_alone() -> None:
    client = BaseUrlHttpClient("http://127.0.0.1:4010/prefix/")
    assert (
        client.rewrite("https://api.sydney.au1.twilio.com/2010-04-01/Accounts/AC1/Calls.json?a=1")
        == "http://127.0.0.1:4010/prefix/2010-04-01/Accounts/AC1/Calls.json?a=1"
    )
    assert client.rewrite("https://example.org/x") == "https://example.org/x"
    assert client.rewrite("https://eviltwilio.com/x") == "https://eviltwilio.com/x"


def test_a_rejected_call_raises_a_code_never_the_number(prism_url: str) -> None:
    # Prism refuses a Timeout that is not an integer; the error carries no number.
    calls = calls_through(prism_url)
    with pytest.raises(DialError) as error:
        calls.call_volunteer(
            to="+77011110001",
            url=CALL_URL,
            status_callback=STATUS_URL,
            timeout="soon",  # type: ignore[arg-type]
        )
    assert error.value.code.startswith("twilio:")
    assert "77011110001" not in str(error.value)


# --- the Twilio purge: list a call's legs, delete each ------------------------------------------


def test_listing_a_calls_legs_matches_twilios_contract(prism_url: str) -> None:
    sids = calls_through(prism_url).child_call_sids("CA" + "b" * 32)
    assert all(sid.startswith("CA") for sid in sids)  # the spec's example page


def test_deleting_a_call_matches_twilios_contract(prism_url: str) -> None:
    assert calls_through(prism_url).delete_call("CA" + "c" * 32) is True  # 204


def test_a_delete_that_breaks_the_contract_is_refused_with_a_code(prism_url: str) -> None:
    # The control: Prism checks the Sid in the path against the spec's pattern (^CA[0-9a-f]{32}$).
    with pytest.raises(PurgeError) as error:
        calls_through(prism_url).delete_call("CA-not-a-sid")
    assert error.value.code.startswith("twilio:")


# --- the waiting line: a caller moved out of the queue into their conference --------------------


def test_moving_a_waiting_caller_into_the_conference_matches_twilios_contract(
    prism_url: str,
) -> None:
    join = "https://hotline.example.org/twilio/line/join?call=CA" + "d" * 32
    calls_through(prism_url).redirect("CA" + "d" * 32, join, timeout=3.0)  # DialError on a 4xx


def test_a_redirect_that_breaks_the_contract_is_refused_with_a_code(prism_url: str) -> None:
    # The control: the spec's Call Sid pattern is checked on the update too.
    with pytest.raises(DialError) as error:
        calls_through(prism_url).redirect("CA-not-a-sid", "https://hotline.example.org/x")
    assert error.value.code.startswith("twilio:")


def test_holding_a_caller_while_the_volunteer_picks_a_partner_matches_twilios_contract(
    prism_url: str,
) -> None:
    hold_url = "https://hotline.example.org/twilio/transfer/hold?call=CA" + "d" * 32
    calls = calls_through(prism_url)
    calls.hold("CF" + "a" * 32, "CA" + "d" * 32, True, hold_url)  # DialError on a 4xx
    calls.hold("CF" + "a" * 32, "CA" + "d" * 32, False)


def test_telling_the_volunteer_a_partner_did_not_answer_matches_twilios_contract(
    prism_url: str,
) -> None:
    said = "https://hotline.example.org/twilio/transfer/announce?call=CA" + "d" * 32
    calls_through(prism_url).announce("CF" + "a" * 32, "CA" + "e" * 32, said)  # DialError on 4xx


def test_a_hold_that_breaks_the_contract_is_refused_with_a_code(prism_url: str) -> None:
    # The control: the Conference Sid must have Twilio's shape (^CF[0-9a-fA-F]{32}$).
    with pytest.raises(DialError) as error:
        calls_through(prism_url).hold("not-a-conference", "CA" + "d" * 32, True)
    assert error.value.code.startswith("twilio:")
