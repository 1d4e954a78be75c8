"""A local HTTP server standing in for Stripe's Checkout API on loopback: it creates and serves checkout
sessions as Stripe's JSON (so the real SDK parses them), lets a test pay or expire one, and signs
webhooks the way Stripe does (Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload"))."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from core.config import PaymentSettings
from tests.loopback import QuietHandler, loopback_server

SECRET_KEY = "sk_test_recoup_standin"
WEBHOOK_SECRET = "whsec_recoup_standin"
_SESSION_PATH = re.compile(r"/v1/checkout/sessions/([A-Za-z0-9_]+)")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class StripeStandIn:
    """Checkout sessions by id, every request seen, and a switch that makes every call answer 500."""

    url: str
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settings(self, webhook_secret: str | None = WEBHOOK_SECRET) -> PaymentSettings:
        return PaymentSettings(secret_key=SECRET_KEY, api_base=self.url, webhook_secret=webhook_secret, timeout=5.0)

    @property
    def env(self) -> dict[str, str]:
        """For a `python -m core` child process."""
        return {
            "RECOUP_STRIPE_SECRET_KEY": SECRET_KEY,
            "RECOUP_STRIPE_API_BASE": self.url,
            "RECOUP_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def pay(self, session_id: str, payment_intent: str | None = None) -> str:
        """The debtor paid on the checkout page; returns the payment intent's id."""
        intent = payment_intent or f"pi_{uuid.uuid4().hex[:24]}"
        with self.lock:
            self.sessions[session_id].update(status="complete", payment_status="paid", payment_intent=intent, url=None)
        return intent

    def expire(self, session_id: str) -> None:
        with self.lock:
            self.sessions[session_id].update(status="expired", url=None)

    def webhook(
        self,
        session_id: str,
        event_type: str = "checkout.session.completed",
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> tuple[bytes, str]:
        """A webhook body about this session as Stripe sends it, and its Stripe-Signature header."""
        moment = timestamp or int(time.time())
        event = {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": moment,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": dict(self.sessions[session_id])},
        }
        payload = json.dumps(event).encode()
        signature = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
        return payload, f"t={moment},v1={signature}"

    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        item = "line_items[0]"
        missing = [
            name
            for name in ("mode", "success_url", "cancel_url", f"{item}[price_data][currency]")
            if not form.get(name)
        ]
        if missing or form["mode"] != "payment" or "{CHECKOUT_SESSION_ID}" not in form["success_url"]:
            return 400, _error(f"Missing or invalid parameters: {', '.join(missing) or 'mode/success_url'}")
        session_id = f"cs_test_{uuid.uuid4().hex}"
        amount = int(form[f"{item}[price_data][unit_amount]"]) * int(form.get(f"{item}[quantity]", "1"))
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": form["cancel_url"],
            "client_reference_id": form.get("client_reference_id"),
            "created": now,
            "currency": form[f"{item}[price_data][currency]"],
            "customer": None,
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": {
                key[len("metadata[") : -1]: value for key, value in form.items() if key.startswith("metadata[")
            },
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        with self.lock:
            self.sessions[session_id] = session
        return 200, session

    def _retrieve(self, session_id: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            found = self.sessions.get(session_id)
        if found is None:
            return 404, _error(f"No such checkout.session: '{session_id}'", code="resource_missing", param="session")
        return 200, dict(found)


def _error(message: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message, "code": code, "param": param}}


def _handler(stand_in: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
            if self._refused("POST", form):
                return
            if self.path == "/v1/checkout/sessions":
                self._answer(*stand_in._create(form))
            else:
                self._answer(404, _error(f"Unrecognized request URL (POST: {self.path})"))

        def do_GET(self) -> None:  # noqa: N802
            if self._refused("GET", {}):
                return
            if match := _SESSION_PATH.fullmatch(self.path.split("?")[0]):
                self._answer(*stand_in._retrieve(match.group(1)))
            else:
                self._answer(404, _error(f"Unrecognized request URL (GET: {self.path})"))

        def _refused(self, method: str, form: dict[str, str]) -> bool:
            stand_in.seen.append(Seen(method, self.path, dict(self.headers.items()), form))
            if self.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                self._answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                return True
            if stand_in.failing:
                self._answer(500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}})
                return True
            return False

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def running_stripe() -> Iterator[StripeStandIn]:
    with loopback_server() as (server, url):
        state = StripeStandIn(url=url)
        server.RequestHandlerClass = _handler(state)
        yield state
