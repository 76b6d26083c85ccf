"""Bot API calls as JSON bodies: python-telegram-bot's HTTPX request with a cheaper encoding.

python-telegram-bot form-encodes every call, and urllib quotes a long message byte by byte in Python: about a
tenth of the bot's work per message to a reader. The Bot API accepts JSON bodies as well, which orjson
writes in microseconds. Calls with files still go as multipart through the parent class. Imported only when
Telegram is configured (python-telegram-bot is slow to import).
"""

from __future__ import annotations

import httpx
import orjson
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData


class JSONRequest(HTTPXRequest):
    """An `HTTPXRequest` that sends calls without files as `application/json`."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`; errors map to python-telegram-bot's as the parent's do."""
        timeouts = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        if request_data is None or request_data.contains_files:
            return await super().do_request(url, method, request_data, *timeouts)
        default = self._client.timeout
        read, write, connect, pool = (
            getattr(default, name) if isinstance(value, DefaultValue) else value
            for name, value in zip(("read", "write", "connect", "pool"), timeouts, strict=True)
        )
        headers = {"User-Agent": self.USER_AGENT, "Content-Type": "application/json"}
        try:
            response = await self._client.request(
                method,
                url,
                headers=headers,
                timeout=httpx.Timeout(connect=connect, read=read, write=write, pool=pool),
                content=orjson.dumps(request_data.parameters),
            )
        except httpx.TimeoutException as error:
            raise TimedOut from error
        except httpx.HTTPError as error:  # the base class: after the timeouts
            raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
        return response.status_code, response.content
