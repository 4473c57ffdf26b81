"""Dixa's webhook subscriptions, faked: the `/beta/webhooks` API (seed 004, Dixa's OpenAPI
document) and a sender that delivers events to every enabled subscription the way Dixa
does (seeds 002/003):

- POST with `Content-Type: application/json`, `X-DIXA-SIGNATURE: t=<ms>,v1=<hex HMAC-SHA256
  of "t.body" keyed with the hex-decoded secretKey>`, `X-DIXA-SUBSCRIPTION-ID`, the
  subscription's authorization (`Bearer <token>` or Basic) and custom headers, read when
  each attempt is sent (a PATCHed key is used by the next retry);
- only subscribed event types, only conversations that pass the subscription's filters
  (`QueueId`/`InitialChannel`, `IsOneOf`/`IsNotOneOf`, strategy All/Any);
- a failure (no answer, or a status outside 200-399) is retried `retry_spacing` later (a
  minute at Dixa; compressible for tests), up to `max_retries` times;
- `disable_after` failures in a row (within `disable_window`) disable the subscription;
- every attempt is logged per event type (the last 50), which the delivery-status and
  logs endpoints report.

Signing here is written out from Dixa's description, not borrowed from the relay's code.
"""

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from tests.fakes.base import Reply

EVENT_TYPES = {
    "SLAEvaluationVoided", "ConversationPending", "SLAEvaluationBreached",
    "ConversationMessageAdded", "ConversationCustomAttributeUpdated", "SLAEvaluationAchieved",
    "ConversationAssigned", "ConversationMessageDeliveryDelivered",
    "ConversationMessageDeliveryInfo", "ConversationTransferred", "ConversationEnqueued",
    "AgentUnbannedEnduser", "TypingStarted", "ConversationCreated", "ConversationUnassigned",
    "ConversationOpen", "ConversationAbandoned", "ConversationClosed",
    "ConversationMessageDeliveryFailed", "ConversationTagAdded", "ConversationNoteAdded",
    "AgentBannedEnduser", "ConversationEndUserReplaced", "ConversationMessageDeliverySeen",
    "AgentUnbannedIp", "ConversationMessageDeliverySent", "AgentBannedIp",
    "ConversationTagRemoved", "ConversationRated", "SLAEvaluationPending",
    "ConversationMessageDeliverySpamComplaint", "ConversationPendingExpired",
}  # fmt: skip
LOG_SIZE = 50
USER_ID = "e979cc3b-17b2-4850-b049-13c758763d1c"


def _now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _bad(message: str) -> Reply:
    return Reply(400, {"message": message})


def _not_found() -> Reply:
    return Reply(404, {"message": "The requested resource could not be found"})


@dataclass
class Subscription:
    id: str
    name: str
    url: str
    events: list[str]
    authorization: dict
    custom_headers: dict
    enabled: bool
    filters: dict
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    created_at: str = field(default_factory=_now_iso)
    updated_at: str = field(default_factory=_now_iso)
    failures_in_a_row: list[float] = field(default_factory=list)
    logs: dict[str, deque] = field(default_factory=dict)

    def headers(self) -> dict:
        found = dict(self.custom_headers)
        kind = self.authorization.get("_type")
        if kind == "TokenAuth":
            found["Authorization"] = f"Bearer {self.authorization.get('value', '')}"
        elif kind == "BasicAuth":
            pair = (
                f"{self.authorization.get('username', '')}:{self.authorization.get('password', '')}"
            )
            found["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return found

    def view(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "subscribedEvents": sorted(self.events),
            "url": self.url,
            "headers": self.headers(),
            "secretKey": self.secret_key,
            "enabled": self.enabled,
            "createdAt": self.created_at,
            "createdBy": USER_ID,
            "updatedAt": self.updated_at,
            "updatedBy": USER_ID,
            "filters": self.filters,
        }

    def accepts(self, event_type: str, conversation: dict) -> bool:
        if not self.enabled or event_type not in self.events:
            return False
        group = self.filters.get("Conversation")
        if not group:
            return True
        results = [_condition(c, conversation) for c in group.get("conditions", [])]
        return any(results) if group.get("strategy") == "Any" else all(results)


def _condition(condition: dict, conversation: dict) -> bool:
    field_name = condition.get("field")
    if field_name == "QueueId":
        value = (conversation.get("queue") or {}).get("id")
    elif field_name == "InitialChannel":
        value = str(conversation.get("channel", "")).lower()
    else:
        value = None
    inside = value in (condition.get("values") or [])
    return not inside if condition.get("_type") == "IsNotOneOf" else inside


def _validate(body, *, create: bool) -> str | None:
    if not isinstance(body, dict):
        return "Invalid value for: body"
    if create:
        missing = [k for k in ("name", "url", "authorization", "customHeaders") if k not in body]
        if missing:
            return f"Invalid value for: body (missing {', '.join(missing)})"
    unknown = set(body.get("events") or []) - EVENT_TYPES
    if unknown:
        return f"Invalid value for: body (unknown events {sorted(unknown)})"
    authorization = body.get("authorization")
    if authorization is not None and authorization.get("_type") not in (
        "TokenAuth",
        "BasicAuth",
        "NoAuth",
    ):
        return "Invalid value for: body (authorization)"
    group = (body.get("filters") or {}).get("Conversation")
    if group is not None:
        conditions = group.get("conditions")
        if not conditions or any(not c.get("values") for c in conditions):
            return "Invalid value for: body (filters need at least one condition and value)"
    return None


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    subscription_id: str = field(compare=False)
    event_type: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookSender:
    """Delivers due attempts from a heap with a small pool of threads."""

    def __init__(self, fake: "WebhooksApi", workers: int = 16):
        self.fake = fake
        self.queue: list[Delivery] = []
        self.seq = itertools.count()
        self.wake = threading.Condition()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fake-dixa-send")
        self.client = httpx.Client(timeout=fake.send_timeout)
        self.running = True
        self.in_flight = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def put(self, delivery: Delivery) -> None:
        with self.wake:
            heapq.heappush(self.queue, delivery)
            self.wake.notify()

    def idle(self) -> bool:
        with self.wake:
            return not self.queue and not self.in_flight

    def pending(self) -> int:
        with self.wake:
            return len(self.queue) + self.in_flight

    def stop(self) -> None:
        with self.wake:
            self.running = False
            self.wake.notify()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def _loop(self) -> None:
        while True:
            with self.wake:
                while self.running and (not self.queue or self.queue[0].due > time.time()):
                    timeout = self.queue[0].due - time.time() if self.queue else None
                    self.wake.wait(timeout)
                if not self.running:
                    return
                delivery = heapq.heappop(self.queue)
                self.in_flight += 1
            self.pool.submit(self._send, delivery)

    def _send(self, delivery: Delivery) -> None:
        try:
            self.fake._attempt(delivery, self.client)
        finally:
            with self.wake:
                self.in_flight -= 1


class WebhooksApi:
    """Mixed into FakeDixa: the subscriptions, their API and their sender."""

    retry_spacing = 60.0
    max_retries = 5
    disable_after = 25
    disable_window = 3 * 3600.0
    send_timeout = 10.0

    def webhooks_init(self, *, retry_spacing=None, max_retries=None, disable_after=None):
        self.subscriptions: dict[str, Subscription] = {}
        if retry_spacing is not None:
            self.retry_spacing = retry_spacing
        if max_retries is not None:
            self.max_retries = max_retries
        if disable_after is not None:
            self.disable_after = disable_after
        self.sender: WebhookSender | None = None

    def webhooks_start(self) -> None:
        self.sender = WebhookSender(self)

    def webhooks_stop(self) -> None:
        if self.sender:
            self.sender.stop()

    # --- Dixa's side of a conversation ---------------------------------------------------
    def close_conversation(
        self,
        csid: int,
        *,
        queue_id: str,
        assignee: bool = True,
        channel: str = "EMAIL",
        email: str | None = None,
    ) -> str:
        """The agent closes the conversation (ConversationAbandoned without an agent):
        every enabled subscription that wants it gets the event. Returns its event id."""
        from integrations.dixa import samples

        event_type = "ConversationClosed" if assignee else "ConversationAbandoned"
        overrides = {
            "csid": int(csid),
            "channel": channel,
            "queue": {"id": queue_id, "name": "Queue"},
        }
        if email:
            overrides["requester"] = {
                "id": str(uuid.uuid4()),
                "name": "Jane",
                "email": email,
                "phone": None,
                "roles": [],
                "user_type": "Contact",
            }
        body = samples.event(event_type, conversation_overrides=overrides, assignee=assignee)
        return self.emit(event_type, body)

    def emit(self, event_type: str, body: dict) -> str:
        """Send `body` (an envelope) to the subscriptions that want `event_type`."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        conversation = (body.get("data") or {}).get("conversation") or {}
        with self.lock:
            targets = [
                s.id for s in self.subscriptions.values() if s.accepts(event_type, conversation)
            ]
        for subscription_id in targets:
            self.sender.put(
                Delivery(time.time(), next(self.sender.seq), subscription_id, event_type, raw)
            )
        return str(body.get("event_id"))

    def _attempt(self, delivery: Delivery, client: httpx.Client) -> None:
        with self.lock:
            subscription = self.subscriptions.get(delivery.subscription_id)
            if subscription is None or not subscription.enabled:
                return  # deleted or disabled: Dixa sends no more
            url, secret, headers = subscription.url, subscription.secret_key, subscription.headers()
        timestamp = str(int(time.time() * 1000))
        digest = hmac.new(
            bytes.fromhex(secret), timestamp.encode() + b"." + delivery.body, hashlib.sha256
        ).hexdigest()
        headers.update(
            {
                "Content-Type": "application/json",
                "X-DIXA-SIGNATURE": f"t={timestamp},v1={digest}",
                "X-DIXA-SUBSCRIPTION-ID": delivery.subscription_id,
            }
        )
        try:
            response = client.post(url, content=delivery.body, headers=headers)
            code, text = response.status_code, response.text[:200]
        except httpx.HTTPError as exc:
            code, text = 0, f"no answer: {type(exc).__name__}"
        success = 200 <= code < 400
        self._log(delivery, success, code, text)
        if not success and delivery.attempt <= self.max_retries:
            delivery.attempt += 1
            delivery.due = time.time() + self.retry_spacing
            delivery.seq = next(self.sender.seq)
            self.sender.put(delivery)

    def _log(self, delivery: Delivery, success: bool, code: int, text: str) -> None:
        now = time.time()
        with self.lock:
            subscription = self.subscriptions.get(delivery.subscription_id)
            if subscription is None:
                return
            entry = {
                "deliveryDetail": {
                    "deliveryTimestamp": _now_iso(),
                    "success": success,
                    "responseCode": code,
                    "responseText": text,
                },
                "payload": delivery.body.decode(),
            }
            subscription.logs.setdefault(delivery.event_type, deque(maxlen=LOG_SIZE)).append(entry)
            if success:
                subscription.failures_in_a_row.clear()
                return
            window = [t for t in subscription.failures_in_a_row if now - t < self.disable_window]
            subscription.failures_in_a_row = window + [now]
            if len(subscription.failures_in_a_row) >= self.disable_after:
                subscription.enabled = False

    # --- hand edits in Dixa's UI ---------------------------------------------------------
    def edit_subscription(self, subscription_id: str, **changes) -> None:
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            for name, value in changes.items():
                setattr(subscription, name, value)
            subscription.updated_at = _now_iso()

    def delete_subscription(self, subscription_id: str) -> None:
        with self.lock:
            self.subscriptions.pop(subscription_id, None)

    def webhooks_state(self) -> dict:
        with self.lock:
            return {"subscriptions": [s.view() for s in self.subscriptions.values()]}

    def webhooks_reset(self) -> None:
        self.subscriptions.clear()

    # --- the API -------------------------------------------------------------------------
    def webhooks_route(self, method: str, parts: list[str], body: bytes) -> Reply:
        """`parts` follow /beta/webhooks."""
        if not parts:
            if method == "GET":
                with self.lock:
                    return Reply(200, {"data": [s.view() for s in self.subscriptions.values()]})
            if method == "POST":
                return self._webhook_create(body)
            return Reply(405, {"message": "Method not allowed"})
        try:
            uuid.UUID(parts[0])
        except ValueError:
            return _bad("Invalid value for: path parameter webhookSubscriptionId")
        with self.lock:
            subscription = self.subscriptions.get(parts[0])
        if subscription is None:
            return _not_found()
        rest = parts[1:]
        if not rest:
            if method == "GET":
                with self.lock:
                    return Reply(200, {"data": subscription.view()})
            if method == "PATCH":
                return self._webhook_patch(subscription, body)
            if method == "DELETE":
                self.delete_subscription(subscription.id)
                return Reply(204, None)
        if method == "GET" and rest == ["delivery-status"]:
            return Reply(200, {"data": self._statuses(subscription)})
        if method == "GET" and len(rest) == 3 and rest[:2] == ["delivery-status", "logs"]:
            if rest[2] not in EVENT_TYPES:
                return _bad("Invalid value for: path parameter event")
            with self.lock:
                logs = list(subscription.logs.get(rest[2], []))
            return Reply(200, {"data": list(reversed(logs))})
        return _not_found()

    def _statuses(self, subscription: Subscription) -> list[dict]:
        statuses = []
        with self.lock:
            for event in sorted(subscription.events):
                logs = subscription.logs.get(event)
                if logs:
                    status = dict(logs[-1]["deliveryDetail"], _type="DeliveryDetail")
                else:
                    status = {"_type": "NoRecentDelivery"}
                statuses.append({"event": event, "deliveryStatus": status})
        return statuses

    def _webhook_create(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return _bad("Decoding failure in request")
        problem = _validate(body, create=True)
        if problem:
            return _bad(problem)
        subscription = Subscription(
            id=str(uuid.uuid4()),
            name=str(body["name"]),
            url=str(body["url"]),
            events=sorted(set(body.get("events") or [])),
            authorization=body["authorization"] or {"_type": "NoAuth"},
            custom_headers=dict(body["customHeaders"] or {}),
            enabled=bool(body.get("enabled", True)),
            filters=body.get("filters") or {},
        )
        with self.lock:
            self.subscriptions[subscription.id] = subscription
            return Reply(201, {"data": subscription.view()})

    def _webhook_patch(self, subscription: Subscription, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return _bad("Decoding failure in request")
        problem = _validate(body, create=False)
        if problem:
            return _bad(problem)
        fields = {
            "name": "name",
            "url": "url",
            "events": "events",
            "authorization": "authorization",
            "customHeaders": "custom_headers",
            "enabled": "enabled",
            "filters": "filters",
        }
        with self.lock:
            for key, attribute in fields.items():
                if key in body:
                    value = body[key]
                    setattr(
                        subscription, attribute, sorted(set(value)) if key == "events" else value
                    )
            if body.get("enabled"):
                subscription.failures_in_a_row.clear()
            subscription.updated_at = _now_iso()
            return Reply(200, {"data": subscription.view()})
