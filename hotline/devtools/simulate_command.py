"""`hotline simulate`: a call through the running hotline, and then the callback it asked for.

The caller's side follows the IVR (hotline.simulate); the volunteers' phones answer as told. With
--answer-callback it then waits for the callback leg that a worker places through the local
stand-in for Twilio's REST API (TWILIO_API_BASE_URL, which `./dev run` starts), and plays the
volunteer's phone and the caller's phone for it (hotline.devtools.callback_phones).
"""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings
from ..simulate import Heard, SimulatedCall, VolunteerPhones, scripted
from .callback_phones import CALLER_ACTIONS, VOLUNTEER_ACTIONS, CallbackPhones, Phone
from .room_phones import RoomPhones


def add_arguments(sim: argparse.ArgumentParser) -> None:
    """The options of `hotline simulate`."""
    sim.add_argument("--keys", help="scripted keys, e.g. 2,1 (an empty item is silence)")
    sim.add_argument("--url", help="the hotline's base URL (default: PUBLIC_BASE_URL)")
    sim.add_argument("--caller", default="+77010000000", help="the simulated caller's number")
    sim.add_argument(
        "--volunteer-answers",
        default="",
        help="how volunteers' phones answer the call: NUMBER=accept|decline|silent|busy|"
        "no-answer,... ('*' for every other number; default accept)",
    )
    sim.add_argument(
        "--talk", type=float, default=0.0, metavar="SECONDS", help="how long connected calls last"
    )
    sim.add_argument(
        "--answer-callback",
        action="store_true",
        help="then answer the callback's legs at the local Twilio stand-in (TWILIO_API_BASE_URL)",
    )
    sim.add_argument(
        "--callback-volunteer", choices=VOLUNTEER_ACTIONS, default="accept",
        help="what the volunteer does when the callback rings them (default accept)",
    )  # fmt: skip
    sim.add_argument(
        "--callback-caller", choices=CALLER_ACTIONS, default="answer",
        help="what the caller's phone does when called back (default answer)",
    )  # fmt: skip
    sim.add_argument(
        "--line", action="store_true",
        help="play the waiting line: a first caller holds the only free volunteer for --talk "
        "seconds (default 3) while a second waits, then is put through in a conference "
        "(needs the local Twilio stand-in, TWILIO_API_BASE_URL)",
    )  # fmt: skip
    sim.add_argument(
        "--transfer", metavar="KEY",
        help="with --line: the volunteer then presses * and KEY in the partner menu",
    )  # fmt: skip
    sim.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS",
        help="how long to wait for the callback to ring (default 60)",
    )  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Play the call (unless only --answer-callback is given), then the callback if asked."""
    if args.line:
        return _line(args, settings)
    status = 0
    if args.keys is not None or not args.answer_callback:
        status = _call(args, settings)
    if args.answer_callback and status == 0:
        status = _callback(args, settings)
    return status


def _call(args: argparse.Namespace, settings: Settings) -> int:
    base_url = (args.url or settings.public_base_url).rstrip("/")
    call = SimulatedCall(base_url, settings.twilio_auth_token, caller=args.caller)

    def interactive(gather: Heard) -> str | None:
        try:
            key = input("  press a key (Enter for silence) > ").strip()
        except EOFError:
            return None
        return key or None

    keys = scripted([k or None for k in args.keys.split(",")]) if args.keys else interactive
    printed = 0

    def show_new() -> None:
        nonlocal printed
        for heard in call.heard[printed:]:
            if heard.kind == "say":
                print(f"  [{heard.attrs.get('language', '')}] {heard.text}")
            elif heard.kind == "play":
                print(f"  [recording] {heard.text}")
            elif heard.kind == "hangup":
                print("  -- the hotline hangs up --")
            elif heard.kind == "dial":
                print("  -- ringing a volunteer --")
            elif heard.kind == "enqueue":
                print("  -- ringing a volunteer (the caller waits for the conference) --")
        printed = len(call.heard)

    def keys_with_echo(gather: Heard) -> str | None:
        show_new()
        key = keys(gather)
        if args.keys:
            print(f"  > {key if key else '(silence)'}")
        return key

    # Volunteers' phones answer and accept, unless --volunteer-answers says otherwise.
    answers = dict(item.split("=", 1) for item in args.volunteer_answers.split(",") if "=" in item)
    phones = VolunteerPhones(call, answers, talk_seconds=args.talk)
    # With the local stand-in for Twilio's REST API, a free volunteer is rung there and the two
    # meet in a conference; without it the hotline falls back to <Dial>.
    room = (
        RoomPhones(call, settings.twilio_api_base_url, answers, talk_seconds=args.talk)
        if settings.twilio_api_base_url
        else None
    )
    print(f"Calling {base_url}/twilio/voice as a simulated caller (CallSid {call.call_sid})")
    try:
        if room is not None:
            room.hold_incoming()
        call.run(keys_with_echo, on_dial=phones, on_enqueue=room)
    except OSError as error:
        print(f"cannot reach the hotline at {base_url}: {error}", file=sys.stderr)
        return 1
    show_new()
    for _number, _caller_id, whisper in [*phones.legs, *(room.legs if room else [])]:
        print(f"  (a volunteer's phone rang; they heard: {whisper or 'nothing, busy/no answer'})")
    refused = [e for e in call.exchanges if e.status >= 400]
    for exchange in refused:
        print(f"  !! {exchange.url} answered {exchange.status}", file=sys.stderr)
    return 1 if refused else 0


def _line(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.twilio_api_base_url:
        print(
            "TWILIO_API_BASE_URL is not set: the line rings volunteers through the REST API, "
            "which would ring real phones. `./dev run` starts a local stand-in and sets it.",
            file=sys.stderr,
        )
        return 2
    from .line_play import LinePlay

    base_url = (args.url or settings.public_base_url).rstrip("/")
    play = LinePlay(base_url, settings.twilio_api_base_url, settings.twilio_auth_token, print)
    try:
        return play.play(args.keys or "2,1", args.talk or 3.0, args.transfer)
    except (OSError, TimeoutError, RuntimeError) as error:
        print(f"the line could not be played: {error}", file=sys.stderr)
        return 1


def _callback(args: argparse.Namespace, settings: Settings) -> int:
    api = settings.twilio_api_base_url
    if not api:
        print(
            "TWILIO_API_BASE_URL is not set: a callback goes to the real Twilio, which rings real "
            "phones. `./dev run` starts a local stand-in and sets it.",
            file=sys.stderr,
        )
        return 2
    phones = CallbackPhones(api, settings.twilio_account_sid, settings.twilio_auth_token)
    print(f"Waiting up to {args.wait:.0f} s for a worker to place a callback (through {api})")
    try:
        ringing = phones.wait_for_ringing(args.wait)
        if ringing is None:
            print("  no callback rang (a window later today? see the worker's lines)")
            return 1
        seen = phones.answer(ringing, args.callback_volunteer, args.callback_caller, args.talk)
    except OSError as error:
        print(f"cannot play the callback: {error}", file=sys.stderr)
        return 1
    for phone in seen:
        _show(phone)
    return 0


def _show(phone: Phone) -> None:
    print(f"The {phone.who}'s phone (ending in {phone.number_tail}) rings, from {phone.caller_id}")
    for text in phone.heard:
        print(f"  {phone.who} hears: {text}")
    for key in phone.pressed:
        print(f"  > {key}")
    print(f"  -- {phone.outcome} --")
