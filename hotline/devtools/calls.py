"""A call placed through the local stand-in for Twilio's REST API, and how Twilio shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

FINAL = {"completed", "busy", "failed", "no-answer", "canceled"}


@dataclass
class CreatedCall:
    """One call placed through Calls.create: its form fields (first value each) and its state."""

    sid: str
    params: dict[str, str]
    received_at: float  # time.perf_counter() when the request arrived
    updates: list[dict[str, str]] = field(default_factory=list)
    status: str = "queued"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    answered_at: float | None = None  # time.monotonic()
    parent: str | None = None  # the call whose <Dial> placed this leg
    deleted: bool = False  # DELETE .../Calls/{Sid}.json removed it from Twilio's logs

    def summary(self) -> dict[str, Any]:
        """What the simulator needs to play this call's phone."""
        return {
            "sid": self.sid,
            "status": self.status,
            "params": self.params,
            "updates": list(self.updates),
        }


def call_resource(account: str, call: CreatedCall) -> dict[str, Any]:
    """The call as Twilio's API shows it (api.v2010.account.call)."""
    created = format_datetime(call.created)
    uri = f"/2010-04-01/Accounts/{account}/Calls/{call.sid}.json"
    base = uri.removesuffix(".json")
    return {
        "sid": call.sid,
        "date_created": created,
        "date_updated": created,
        "parent_call_sid": call.parent,
        "account_sid": account,
        "to": call.params.get("To"),
        "to_formatted": call.params.get("To"),
        "from": call.params.get("From"),
        "from_formatted": call.params.get("From"),
        "phone_number_sid": None,
        "status": call.status,
        "start_time": None,
        "end_time": None,
        "duration": None,
        "price": None,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": None,
        "api_version": "2010-04-01",
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": uri,
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
            "payments": f"{base}/Payments.json",
            "events": f"{base}/Events.json",
            "siprec": f"{base}/Siprec.json",
            "streams": f"{base}/Streams.json",
            "transcriptions": f"{base}/Transcriptions.json",
            "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": f"{base}/UserDefinedMessages.json",
        },
    }


def participant_resource(
    account: str, conference: str, call: CreatedCall, form: dict[str, str]
) -> dict[str, Any]:
    """A conference participant as Twilio's API shows it (its api.v2010 participant schema)."""
    created = format_datetime(call.created)
    uri = f"/2010-04-01/Accounts/{account}/Conferences/{conference}/Participants/{call.sid}.json"
    return {
        "account_sid": account,
        "call_sid": call.sid,
        "label": None,
        "call_sid_to_coach": None,
        "coaching": False,
        "conference_sid": conference,
        "date_created": created,
        "date_updated": created,
        "end_conference_on_exit": False,
        "muted": form.get("Muted", "false").lower() == "true",
        "hold": form.get("Hold", "false").lower() == "true",
        "start_conference_on_enter": True,
        "status": "connected",
        "queue_time": "0",
        "uri": uri,
    }
