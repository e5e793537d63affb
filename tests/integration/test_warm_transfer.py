"""Warm transfer from a conference call: * on the volunteer's leg, the partner menu, the partner
dialed from the hotline's number with a whisper, the caller on hold meanwhile, and every way it
can go wrong (a wrong key, nobody answering now, a number that fails, no answer, hangups)."""

from __future__ import annotations

import time

import pytest
from test_waiting_line import (
    HOTLINE,
    app,
    fake_twilio,
    post,
    put_through,
    record_of,
    room_event,
)
from twiml_helpers import all_speech, ends_call, gather, query

from hotline.routing.partners import parse_partners
from hotline.telephony import room

# pytest finds fixtures by name in the test module: these imports are the fixtures.
FIXTURES = (app, fake_twilio)
POLICE, SHELTER = "+77172000102", "+77172000201"
CONFERENCE = "CF" + "b" * 32
ALL_DAY = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
            "end": "24:00"}]  # fmt: skip
NEVER_NOW = [{"date": "2001-01-01", "start": "09:00", "end": "10:00"}]


def row(pid, phone, ru, en, hours=ALL_DAY):
    return {"id": pid, "names": {"kk": ru, "ru": ru, "en": en}, "phone": phone, "hours": hours,
            "topics": ["violence"]}  # fmt: skip


class Call:
    """A line call in its room, played from the volunteer's and the partner's phones."""

    def __init__(self, twilio, fake, params, leg_sid, conference, volunteer_root):
        self.twilio, self.fake = twilio, fake
        self.params, self.sid = params, params["CallSid"]
        self.leg_sid, self.conference = leg_sid, conference
        self.dial = volunteer_root.find("./Dial")

    def volunteer_form(self, **extra):
        created = self.fake.call(self.leg_sid)
        return {"CallSid": self.leg_sid, "AccountSid": "AC" + "1" * 32, "From": HOTLINE,
                "To": created.params["To"], "Direction": "outbound-api",
                "CallStatus": "in-progress", "ApiVersion": "2010-04-01", **extra}  # fmt: skip

    def star(self):
        """The volunteer presses *: their Dial (hangupOnStar) ends and its action is asked."""
        assert self.dial.get("hangupOnStar") == "true"
        return post(self.twilio, self.dial.get("action"), self.volunteer_form())

    def key(self, menu, digits):
        root = post(self.twilio, gather(menu).get("action"), self.volunteer_form(Digits=digits))
        dial = root.find("./Dial")
        if dial is not None:
            self.dial = dial
        return root

    def holds(self):
        return [(sid, form["Hold"]) for _c, sid, form in self.fake.participant_updates
                if "Hold" in form]  # fmt: skip

    def partner_leg(self):
        (created,) = [c for c in self.fake.created if c.params["To"] in (POLICE, SHELTER)]
        return created

    def partner_form(self, created, **extra):
        return {"CallSid": created.sid, "AccountSid": "AC" + "1" * 32, "From": HOTLINE,
                "To": created.params["To"], "Direction": "outbound-api",
                "CallStatus": "in-progress", "ApiVersion": "2010-04-01", **extra}  # fmt: skip

    def partner_answers(self, created, answered_by="human"):
        return post(self.twilio, created.params["Url"],
                    self.partner_form(created, AnsweredBy=answered_by))  # fmt: skip

    def partner_ends(self, created, status):
        form = self.partner_form(created, CallStatus=status)
        return post(self.twilio, created.params["StatusCallback"], form)

    def volunteer_hangs_up(self):
        created = self.fake.call(self.leg_sid)
        form = self.volunteer_form(CallStatus="completed", CallDuration="200")
        return post(self.twilio, created.params["StatusCallback"], form)


@pytest.fixture
def call(app, twilio, fake_twilio, monkeypatch):
    monkeypatch.setitem(
        app.extensions,
        "partners",
        parse_partners(
            {
                "partners": [
                    row("police", POLICE, "Полиция", "the police"),
                    row("shelter", SHELTER, "Кризисный центр", "the shelter"),
                    row("legal", "+77172000401", "Юристы", "legal aid", NEVER_NOW),
                ]
            }
        ),  # fmt: skip
    )
    params, leg_sid, conference, volunteer_root = put_through(twilio, fake_twilio)
    room_event(twilio, conference, "participant-join", leg_sid, 1, ConferenceSid=CONFERENCE)
    room_event(twilio, conference, "participant-join", params["CallSid"], 2,
               ConferenceSid=CONFERENCE)  # fmt: skip
    return Call(twilio, fake_twilio, params, leg_sid, conference, volunteer_root)


def transfers(app, sid):
    deadline = time.monotonic() + 5
    while True:
        path = [step for step in record_of(app, sid).ivr_path if step.startswith("transfer:")]
        if (
            path
            and path[-1].split(":")[2] in ("ended", "no_answer", "failed")
            or (time.monotonic() > deadline)
        ):
            return path
        time.sleep(0.05)


def test_star_puts_the_caller_on_hold_and_lists_the_partners_answering_now(call):
    menu = call.star()
    spoken = all_speech(menu)
    assert "Полиция - нажмите 1" in spoken and "Кризисный центр - нажмите 2" in spoken
    assert "Юристы" not in spoken  # outside its hours
    assert "нажмите 0" in spoken and gather(menu).get("numDigits") == "1"
    assert call.holds() == [(call.sid, "true")]
    (_conf, _sid, form) = call.fake.participant_updates[0]
    assert _conf == CONFERENCE and "/twilio/transfer/hold" in form["HoldUrl"]
    hold = post(call.twilio, form["HoldUrl"], call.params)
    assert "оставайтесь на линии" in all_speech(hold)
    assert {e.tag for e in hold} <= {"Say", "Play", "Pause", "Redirect"}  # what a HoldUrl may hold
    assert hold.find("./Play") is None or "music" not in hold.find("./Play").text


def test_the_police_are_brought_in_and_the_volunteer_may_leave(call, app):
    menu = call.star()
    calling = call.key(menu, "1")
    assert "Звоню партнёру" in all_speech(calling)
    assert calling.find("./Dial/Conference").text == call.sid  # the volunteer goes back in
    partner = call.partner_leg()
    assert partner.params["To"] == POLICE and partner.params["From"] == HOTLINE
    assert "Record" not in partner.params
    whisper = call.partner_answers(partner)
    spoken = all_speech(whisper)
    assert "горячей линии" in spoken and "насилие" in spoken and "русский" in spoken
    assert whisper.find("./Dial/Conference").text == call.sid
    assert whisper.find("./Dial/Conference").get("endConferenceOnExit") == "false"
    room_event(call.twilio, call.conference, "participant-join", partner.sid, 3,
               ConferenceSid=CONFERENCE)  # fmt: skip
    assert call.holds() == [(call.sid, "true"), (call.sid, "false")]  # off hold: partner is in
    assert room.state(_redis(app), call.sid)["partner"] == "joined"
    call.volunteer_hangs_up()
    assert call.fake.call(call.sid).status == "in-progress"  # caller and partner go on
    call.partner_ends(partner, "completed")
    path = transfers(app, call.sid)
    assert path[:2] == ["transfer:police:ringing", "transfer:police:answered"]
    assert path[-1].startswith("transfer:police:ended:")
    assert len(call.fake.created) == 3  # two volunteer legs and the police: nobody twice


def _redis(app):
    return app.extensions["redis"]


def test_a_key_that_names_no_partner_repeats_the_menu_then_goes_back(call):
    menu = call.star()
    again = call.key(menu, "7")
    assert "Полиция - нажмите 1" in all_speech(again)
    back = call.key(again, "7")
    assert back.find("./Dial/Conference").text == call.sid
    assert call.holds() == [(call.sid, "true"), (call.sid, "false")]
    assert len(call.fake.created) == 2  # nobody rung (the volunteer's legs for both calls)


@pytest.mark.parametrize("digits", ["0", ""])
def test_0_or_silence_in_the_menu_goes_back_to_the_caller(call, digits):
    back = call.key(call.star(), digits)
    assert back.find("./Dial/Conference").text == call.sid
    assert call.holds()[-1] == (call.sid, "false")


def test_with_nobody_answering_now_the_volunteer_goes_straight_back(call, app, monkeypatch):
    monkeypatch.setitem(
        app.extensions,
        "partners",
        parse_partners(
            {"partners": [row("legal", "+77172000401", "Юристы", "legal aid", NEVER_NOW)]}
        ),
    )
    back = call.star()
    assert "никто из партнёров не отвечает" in all_speech(back)
    assert back.find("./Dial/Conference").text == call.sid
    assert call.holds() == [(call.sid, "false")]  # never left on hold


def test_a_partner_number_that_fails_to_ring_brings_the_volunteer_back(call, app):
    call.fake.fail_next(400, 21215)
    back = call.key(call.star(), "1")
    assert "Не удалось позвонить" in all_speech(back)
    assert back.find("./Dial/Conference").text == call.sid
    assert call.holds()[-1] == (call.sid, "false")
    assert transfers(app, call.sid) == ["transfer:police:failed"]


def test_a_partner_who_does_not_answer_takes_the_caller_off_hold(call, app):
    call.key(call.star(), "2")
    partner = call.partner_leg()
    assert partner.params["To"] == SHELTER
    call.partner_ends(partner, "no-answer")
    assert call.holds()[-1] == (call.sid, "false")
    assert transfers(app, call.sid) == ["transfer:shelter:ringing", "transfer:shelter:no_answer"]
    call.partner_ends(partner, "no-answer")  # the same callback again: nothing more happens
    assert len(call.holds()) == 2


def test_a_voicemail_answering_the_partners_phone_never_joins(call):
    call.key(call.star(), "1")
    machine = call.partner_answers(call.partner_leg(), "machine_start")
    assert ends_call(machine) and machine.find("./Dial") is None


def test_the_volunteer_hanging_up_mid_transfer_and_no_answer_gives_the_caller_the_offer(call):
    call.key(call.star(), "1")
    call.volunteer_hangs_up()
    assert call.fake.call(call.sid).status == "in-progress"  # on hold, waiting for the police
    call.partner_ends(call.partner_leg(), "busy")
    redirect = [u for u in call.fake.call(call.sid).updates if "Url" in u][-1]["Url"]
    offer = post(call.twilio, redirect, call.params)
    assert query(gather(offer).get("action"))["node"] == "callback_offer"


def test_only_one_partner_is_rung_at_a_time(call):
    call.key(call.star(), "1")
    second = call.key(call.star(), "2")
    assert "Не удалось позвонить" in all_speech(second)
    assert len(call.fake.created) == 3  # the volunteer's legs and the police only


def test_the_caller_hanging_up_on_hold_ends_the_transfer_without_ringing_anyone(call):
    menu = call.star()
    post(call.twilio, "/twilio/status", dict(call.params, CallStatus="completed"))
    gone = call.key(menu, "1")
    assert ends_call(gone) and len(call.fake.created) == 2


def test_without_a_transfer_the_volunteer_hanging_up_ends_the_callers_leg(call):
    call.volunteer_hangs_up()
    assert call.fake.call(call.sid).status == "completed"


def test_no_number_is_stored_or_logged_after_a_line_call_and_a_transfer(
    call, app, database_url, caplog
):
    from privacy_scan import scan_database
    from sqlalchemy import create_engine

    caplog.set_level("DEBUG")
    partner_menu = call.star()
    call.key(partner_menu, "1")
    partner = call.partner_leg()
    call.partner_answers(partner)
    room_event(call.twilio, call.conference, "participant-join", partner.sid, 3,
               ConferenceSid=CONFERENCE)  # fmt: skip
    call.volunteer_hangs_up()
    call.partner_ends(partner, "completed")
    transfers(app, call.sid)
    engine = create_engine(database_url)
    try:
        for number in (POLICE, call.params["From"], call.fake.call(call.leg_sid).params["To"]):
            assert scan_database(engine, number) == []
            assert number not in caplog.text and number[1:] not in caplog.text
    finally:
        engine.dispose()


def test_a_partner_who_does_not_answer_is_announced_to_the_volunteer_in_their_language(call, app):
    call.key(call.star(), "1")
    call.partner_ends(call.partner_leg(), "no-answer")
    # The volunteer alone hears why: an announcement on their participant, not the caller's.
    (announced,) = [(sid, form) for _c, sid, form in call.fake.participant_updates
                    if "AnnounceUrl" in form]  # fmt: skip
    sid, form = announced
    assert sid == call.leg_sid and form["AnnounceMethod"] == "POST"
    said = post(call.twilio, form["AnnounceUrl"], {"CallSid": call.leg_sid,
                                                    "ConferenceSid": CONFERENCE})  # fmt: skip
    assert all_speech(said) == "Партнёр не ответил. Возвращаю вас к абоненту."
    assert said.find("./Gather") is None and said.find("./Dial") is None  # Say only (13238)
    assert call.holds()[-1] == (call.sid, "false")  # and the caller is off hold, with them
