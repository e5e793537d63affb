"""No phone number is stored or logged, in any form, after calls through every menu."""

from __future__ import annotations

import logging

import pytest
from privacy_scan import scan_database, scan_lines
from sqlalchemy import create_engine
from support import CALLER
from twiml_helpers import gather, parse, path_and_query

pytestmark = pytest.mark.usefixtures("redis_client")


def walk(twilio, params, keys):
    response = twilio.post("/twilio/voice", params)
    root = parse(response.data)
    for digits in keys:
        g = gather(root)
        if g is None:
            break
        root = parse(twilio.post(path_and_query(g.get("action")), params, Digits=digits).data)
    redirect = root.find("./Redirect")
    if redirect is not None:
        twilio.post(path_and_query(redirect.text), params)
    twilio.post("/twilio/status", dict(params, CallStatus="completed", CallDuration="30"))


def test_no_column_of_any_table_holds_the_callers_number(app, twilio, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    for keys in (
        ["1", "1"],
        ["2", "2"],
        ["3", "3"],
        ["2", "0", "9", "7", "1"],
        ["3", "8" + CALLER[2:]],
    ):
        walk(twilio, twilio.call_params(caller=CALLER), keys)
    # The caller typed their own number at a menu: it must not reach the record either.
    engine = create_engine(database_url)
    try:
        assert scan_database(engine, CALLER) == []
    finally:
        engine.dispose()
    assert scan_lines(caplog.messages, CALLER) == []


def test_the_scanner_would_find_a_number_if_one_were_stored(app, twilio, database_url):
    from hotline.models import CallRecord

    with app.extensions["db"].session() as session:
        session.add(CallRecord(call_sid="CA" + "0" * 32, ivr_path=["8 701 555 01 23"]))
    engine = create_engine(database_url)
    try:
        assert scan_database(engine, CALLER) == ["call_records.ivr_path"]
    finally:
        engine.dispose()
