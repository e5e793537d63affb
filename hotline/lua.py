"""Redis Lua scripts run by their SHA1 (EVALSHA), so a call sends a few bytes, not the source."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError


class LuaScript:
    """A Lua script run by its SHA1, loaded again if Redis was restarted or flushed its cache."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return redis.eval(self.source, len(keys), *keys, *args)
