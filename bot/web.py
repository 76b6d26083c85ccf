"""`bot run`'s web endpoints: one-click email unsubscribe and, when configured, the Telegram webhook.

With `service.public_url`, readers' mail carries `List-Unsubscribe: <https://.../unsubscribe/TOKEN>, <mailto:...>`
with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a mail client's POST unsubscribes at once.
A GET (a reader's click, or a mail scanner following links) only shows a page with a button that POSTs, so a
scanner never unsubscribes anyone. A token names one reader and works once: the reader's row goes with it.

With `channels.telegram.webhook_url`, the same server takes Telegram's updates on the webhook's path (checking
Telegram's secret-token header) and answers only once the update is handled, as long polling confirms them.
The server listens on `channels.telegram.webhook_listen` when the webhook is on, else `service.listen`, behind
the operator's TLS proxy.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.config import Config
from bot.errors import BotError
from bot.store import Store
from bot.subscribers import Subscribers

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000  # an update or a one-click POST is small; anything larger is refused unread
PAGES = {
    "confirm": "<p>Unsubscribe {address} from the weekly paper digest?</p>"
               '<form method="post"><button type="submit">Unsubscribe</button></form>',
    "done": "<p>{address} is unsubscribed. You will get no more digests.</p>",
    "unknown": "<p>This unsubscribe link is not valid (any more): the address is already unsubscribed.</p>",
}  # fmt: skip
Updates = Callable[[dict[str, Any]], None]


class WebServer:
    """A threaded HTTP server for the endpoints above; `start` returns at once, `stop` shuts it down."""

    def __init__(self, config: Config, store: Store, updates: Updates | None = None, webhook_path: str = "",
                 secret: str = "") -> None:  # fmt: skip
        self.config, self.store = config, store
        self.updates, self.webhook_path, self.secret = updates, "/" + webhook_path.strip("/"), secret
        telegram = config.channels.telegram
        listen = telegram.webhook_listen if updates is not None and telegram is not None else config.service.listen
        host, _, port = listen.rpartition(":")
        try:
            self.server = ThreadingHTTPServer((host, int(port)), _handler(self))
        except OSError as error:
            raise BotError(f"cannot listen on {listen} for the web endpoints: {error.strerror or error}") from None
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """`host:port` it listens on."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)
        self._thread.start()
        log.info("web: listening on %s (unsubscribe%s)", self.address, ", telegram webhook" * bool(self.updates))

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def unsubscribe(self, token: str, confirm: bool) -> tuple[int, str]:
        """The status and page for an unsubscribe link: a GET asks, a POST unsubscribes."""
        readers = Subscribers(self.store, self.config)
        if not confirm:
            known = readers.by_token(token)
            return (200, PAGES["confirm"].format(address=html.escape(known.address))) if known else (
                404, PAGES["unknown"])  # fmt: skip
        gone = readers.remove_by_token(token)
        if gone is None:
            return 404, PAGES["unknown"]
        log.info("web: %s unsubscribed by their link", gone.id)
        return 200, PAGES["done"].format(address=html.escape(gone.address))


def _handler(web: WebServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "paper-feed-bot"

        def do_GET(self) -> None:
            token = self._token()
            if token is None:
                return self._page(404, "<p>Not found.</p>")
            self._page(*web.unsubscribe(token, confirm=False))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._page(413, "<p>Too large.</p>")
            body = self.rfile.read(length)
            if web.updates is not None and self.path.split("?")[0] == web.webhook_path:
                return self._update(body)
            token = self._token()
            if token is None:
                return self._page(404, "<p>Not found.</p>")
            self._page(*web.unsubscribe(token, confirm=True))

        def _update(self, body: bytes) -> None:
            given = self.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given, web.secret):
                return self._page(403, "<p>Forbidden.</p>")
            try:
                update = json.loads(body)
            except ValueError:
                return self._page(400, "<p>Not JSON.</p>")
            assert web.updates is not None
            try:
                web.updates(update)  # handled before Telegram hears 200: a crash means Telegram sends it again
            except Exception as error:  # (the bot not started yet, a handler too slow): Telegram retries a 503
                log.warning("web: update not handled yet (%s: %s)", type(error).__name__, error)
                return self._page(503, "<p>Not ready.</p>")
            self._page(200, "")

        def _token(self) -> str | None:
            parts = self.path.split("?")[0].strip("/").split("/")
            return parts[1] if len(parts) == 2 and parts[0] == "unsubscribe" and parts[1] else None

        def _page(self, status: int, content: str) -> None:
            data = f"<!doctype html><meta charset=utf-8><title>Paper Feed Bot</title>{content}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("web: " + format, *args)  # a token is a secret: never in the INFO log

    return Handler
