"""What carrying out callbacks needs from the outside world, gathered in one object.

The telephony edge and the workers build it (hotline.telephony.callback_calls.runtime()); the core
only sees these types, so it is tested with a fake phone network and no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol
from urllib.parse import urlencode

from cryptography.fernet import MultiFernet
from redis import Redis
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from ..routing.policy import RoutingPolicy
from .config import CallbackConfig


class DialError(Exception):
    """Placing a call failed; `code` says why (a Twilio error code or 'network'), never a number.

    `detail` is what Twilio or the network said, phone numbers already masked: for the log only
    (the database keeps the code).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class OutboundCalls(Protocol):
    """Places the volunteer's leg of a callback (Twilio's REST API in production)."""

    def call_volunteer(self, *, to: str, url: str, status_callback: str, timeout: int) -> str:
        """Ring `to` from the hotline number with answering-machine detection; the call sid."""
        ...

    def hang_up(self, call_sid: str) -> None:
        """End a call in progress."""
        ...


@dataclass(frozen=True)
class CallbackRuntime:
    sessions: sessionmaker[Session]
    fernet: MultiFernet
    redis: Redis | None
    queue: Queue | None
    calls: OutboundCalls
    config: CallbackConfig
    routing: RoutingPolicy
    tz: tzinfo
    public_base_url: str
    hotline_number: str

    def url(self, path: str, **params: int | str) -> str:
        """An absolute webhook URL under /twilio/callback carrying ids only."""
        return f"{self.public_base_url}/twilio/callback{path}?{urlencode(params)}"

    @property
    def caller_id(self) -> str:
        """The number the survivor's phone shows when called back."""
        return self.config.neutral_caller_id(self.hotline_number)
