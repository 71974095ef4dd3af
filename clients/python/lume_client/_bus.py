"""MassTransit's wire protocol over RabbitMQ, as much of it as a Lume client needs, on pika alone.

What the services expect (MassTransit 8 conventions):

- a message is a JSON envelope (content type ``application/vnd.masstransit+json``) whose ``message`` holds the record
  in camelCase and whose ``messageType`` is ``["urn:message:Lume.Contracts:RunRequested"]``;
- a message is published to the durable fanout exchange named after its type (``Lume.Contracts:RunRequested``), to
  which each service binds its queue;
- a request carries ``requestId`` and ``responseAddress``; the service sends its answer to the *exchange* the address
  names. The address used here is ``rabbitmq://HOST/VHOST/QUEUE?temporary=true``: for it MassTransit declares that
  exchange as fanout, not durable, auto-delete, and nothing else. This client declares the same exchange first and
  binds its own exclusive queue to it, so the declarations agree (without ``?temporary=true`` MassTransit declares a
  durable exchange, which clashes with ours and no answer arrives), and both go away when the client disconnects.
"""

from __future__ import annotations

import collections
import json
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, Iterable, Optional
from urllib.parse import quote, urlparse

import pika
import pika.exceptions

from .errors import LumeTimeout, ServiceError

CONTENT_TYPE = "application/vnd.masstransit+json"
CONTRACTS = "Lume.Contracts"


def urn(message_type: str) -> str:
    """``RunRequested`` -> ``urn:message:Lume.Contracts:RunRequested``."""
    return f"urn:message:{CONTRACTS}:{message_type}"


def exchange_of(message_type: str) -> str:
    """The exchange MassTransit publishes a Lume.Contracts message type to."""
    return f"{CONTRACTS}:{message_type}"


def type_of(envelope: Dict[str, Any]) -> str:
    """The short name of an envelope's message type (``RunSnapshot``), or the full urn of anything not in Lume.Contracts."""
    types = envelope.get("messageType") or []
    prefix = f"urn:message:{CONTRACTS}:"
    for name in types:
        if name.startswith(prefix):
            return name[len(prefix):]
    return types[0] if types else ""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class Envelope(dict):
    """A received MassTransit envelope (the decoded JSON), with its short message type."""

    @property
    def type(self) -> str:
        return type_of(self)

    @property
    def message(self) -> Dict[str, Any]:
        return self.get("message") or {}

    @property
    def is_fault(self) -> bool:
        return any(t.startswith("urn:message:MassTransit:Fault") for t in self.get("messageType") or [])


class Bus:
    """One connection, one channel and one reply queue; not thread-safe (pika's BlockingConnection is not).

    Every message for this client arrives on the one queue: answers to requests (matched by ``requestId``) and the
    events bound with :meth:`listen`. Messages that arrive while the client waits for something else are handed to
    ``on_event`` (events) or kept until asked for (answers).
    """

    def __init__(self, broker_url: str, on_event: Callable[[Envelope], None]) -> None:
        self._on_event = on_event
        parameters = pika.URLParameters(broker_url)
        # MassTransit names hosts in addresses as the broker URL does: rabbitmq://HOST[:PORT]/VHOST ("/" left out).
        parsed = urlparse(broker_url)
        host = parsed.hostname or "localhost"
        port = parsed.port
        authority = host if port in (None, 5672) else f"{host}:{port}"
        vhost = parameters.virtual_host
        self.host_address = f"rabbitmq://{authority}" + ("" if vhost == "/" else "/" + quote(vhost, safe=""))
        try:
            self._connection = pika.BlockingConnection(parameters)
        except pika.exceptions.AMQPError as error:
            raise ServiceError(f"could not connect to the broker at {_without_password(broker_url)}: {error!r}") from error
        self._channel = self._connection.channel()
        # Confirms plus mandatory: a request that no service's queue is bound to fails at once, instead of timing out.
        self._channel.confirm_delivery()
        self.queue = f"lume-client-{uuid.uuid4().hex}"
        self._channel.queue_declare(self.queue, durable=False, auto_delete=True, exclusive=True)
        self._channel.exchange_declare(self.queue, "fanout", durable=False, auto_delete=True)
        self._channel.queue_bind(self.queue, self.queue)
        self.address = f"{self.host_address}/{self.queue}?temporary=true"
        self._inbox: Deque[Envelope] = collections.deque()
        self._answers: Dict[str, Envelope] = {}
        self._pending: set = set()
        self._declared: set = set()
        self._listened: set = set()
        self._channel.basic_consume(self.queue, self._received, auto_ack=True)

    def _received(self, _channel: Any, _method: Any, _properties: Any, body: bytes) -> None:
        try:
            self._inbox.append(Envelope(json.loads(body)))
        except ValueError:
            pass  # not JSON: nothing a Lume service sends; ignore rather than break the client

    def declare(self, message_type: str) -> str:
        """Declares a message type's exchange as MassTransit does (fanout, durable), so publishing never hits a missing one."""
        exchange = exchange_of(message_type)
        if exchange not in self._declared:
            self._channel.exchange_declare(exchange, "fanout", durable=True, auto_delete=False)
            self._declared.add(exchange)
        return exchange

    def listen(self, message_types: Iterable[str]) -> None:
        """Binds the client's queue to these events' exchanges; do it before the request that causes them."""
        for message_type in message_types:
            if message_type not in self._listened:
                self._channel.queue_bind(self.queue, self.declare(message_type))
                self._listened.add(message_type)

    def publish(self, message_type: str, message: Dict[str, Any], request_id: Optional[str] = None,
                faults_here: bool = False) -> None:
        """Publishes ``message`` as MassTransit would; with ``request_id``, as a request answered to this client.

        With ``faults_here``, a service that fails to handle the message sends its Fault to this client, instead of
        publishing it to nobody in particular.
        """
        exchange = self.declare(message_type)
        envelope: Dict[str, Any] = {
            "messageId": str(uuid.uuid4()),
            "conversationId": str(uuid.uuid4()),
            "sourceAddress": self.address,
            "destinationAddress": f"{self.host_address}/{exchange}",
            "messageType": [urn(message_type)],
            "message": message,
            "sentTime": now_iso(),
            "headers": {},
        }
        if request_id is not None:
            envelope["requestId"] = request_id
            envelope["responseAddress"] = self.address
        if faults_here:
            envelope["faultAddress"] = self.address
        properties = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2, message_id=envelope["messageId"])
        try:
            self._channel.basic_publish(exchange, "", json.dumps(envelope).encode(), properties, mandatory=True)
        except pika.exceptions.UnroutableError as error:
            raise ServiceError(f"no service takes {message_type} on this broker (is it running, on this virtual host?)") from error

    def request(self, message_type: str, message: Dict[str, Any], timeout: float) -> Envelope:
        """Sends a request and returns the answer's envelope; a MassTransit fault becomes a ServiceError."""
        request_id = str(uuid.uuid4())
        self._pending.add(request_id)
        try:
            self.publish(message_type, message, request_id)
            deadline = time.monotonic() + timeout
            while request_id not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LumeTimeout(f"no answer to {message_type} within {timeout:g} s")
                self.pump(left)
            answer = self._answers.pop(request_id)
        finally:
            self._pending.discard(request_id)
            self._answers.pop(request_id, None)
        if answer.is_fault:
            exceptions = answer.message.get("exceptions") or []
            reasons = "; ".join(f"{e.get('exceptionType')}: {e.get('message')}" for e in exceptions) or "no reason given"
            raise ServiceError(f"the service could not handle {message_type}: {reasons}", "Fault", answer.message)
        return answer

    def pump(self, seconds: float) -> None:
        """Lets the connection work (heartbeats, deliveries) for up to ``seconds``, returning early once something arrived."""
        deadline = time.monotonic() + max(seconds, 0)
        while True:
            self._connection.process_data_events(time_limit=min(max(deadline - time.monotonic(), 0), 0.25))
            arrived = bool(self._inbox)
            self._dispatch()
            if arrived or time.monotonic() >= deadline:
                return

    def _dispatch(self) -> None:
        while self._inbox:
            envelope = self._inbox.popleft()
            request_id = envelope.get("requestId")
            # By type first: an event published while a service handled a request may carry that request's id. A fault
            # of a message that was no request (a RunRequested the Scheduler could not handle) is news of that message.
            if envelope.type in self._listened or (envelope.is_fault and not request_id):
                self._on_event(envelope)
            elif request_id in self._pending:
                self._answers[request_id] = envelope
            # Anything else (an answer that came after its timeout) is dropped.

    def close(self) -> None:
        try:
            if self._connection.is_open:
                self._connection.close()
        except pika.exceptions.AMQPError:
            pass


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@", 1)


def default_broker_url() -> str:
    """LUME_BROKER, as the services and the CLI read it, else the local broker."""
    return os.environ.get("LUME_BROKER") or "amqp://guest:guest@127.0.0.1:5672/"
