#!/usr/bin/env python3
"""Starts flow1 with pika alone (no lume_client), following docs/wire-protocol.md: the protocol as any AMQP client speaks it.

    LUME_BROKER=amqp://guest:guest@127.0.0.1:5672/ python3 raw_pika_run.py

1. Declare a queue of your own and bind it to the fanout exchanges the Scheduler publishes run events to
   (Lume.Contracts:RunCompleted, ...). Bind before publishing, so no event of the run can be missed.
2. Publish RunRequested, as a MassTransit JSON envelope, to the exchange Lume.Contracts:RunRequested. The run id is
   yours to choose: it is how you recognise your run's events among everyone else's.
3. Wait for RunCompleted (or RunFailed / RunCancelled) whose runId is yours. Prints the RunCompleted message.
"""

import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone

import pika

EVENTS = ["RunAccepted", "RunCompleted", "RunFailed", "RunCancelled"]


def main() -> int:
    url = os.environ.get("LUME_BROKER", "amqp://guest:guest@127.0.0.1:5672/")
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()

    # 1. A private queue, bound to each run event's exchange (declared as MassTransit declares them, in case no
    #    run has ended on this broker yet: a mismatch in type or durability would close the channel).
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    for event in EVENTS:
        channel.exchange_declare(f"Lume.Contracts:{event}", "fanout", durable=True, auto_delete=False)
        channel.queue_bind(queue, f"Lume.Contracts:{event}")

    # 2. The request: a MassTransit envelope whose "message" is the RunRequested record in camelCase.
    run_id = str(uuid.uuid4())
    envelope = {
        "messageId": str(uuid.uuid4()),
        "messageType": ["urn:message:Lume.Contracts:RunRequested"],
        "message": {
            "runId": run_id,
            "flow": "flow1",
            "version": None,
            "parameters": {"text1": "Hello", "text2": "World", "filename": "hello-pika.txt", "filesystem_identifier": "local"},
            "requestedAt": datetime.now(timezone.utc).isoformat(),
        },
        "sentTime": datetime.now(timezone.utc).isoformat(),
        "headers": {},
    }
    channel.exchange_declare("Lume.Contracts:RunRequested", "fanout", durable=True, auto_delete=False)
    channel.basic_publish("Lume.Contracts:RunRequested", "", json.dumps(envelope),
                          pika.BasicProperties(content_type="application/vnd.masstransit+json", delivery_mode=2))
    print(f"requested run {run_id}", file=sys.stderr)

    # 3. Events of every run on the broker arrive here; only ours counts.
    deadline = time.monotonic() + 120
    for method, _properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=1):
        if time.monotonic() > deadline:
            print(f"no end of run {run_id} within 120 s", file=sys.stderr)
            return 3
        if body is None:
            continue
        event = json.loads(body)
        message = event["message"]
        if message.get("runId") != run_id:
            continue
        kind = event["messageType"][0].rsplit(":", 1)[-1]
        print(f"{kind}: {json.dumps(message)}", file=sys.stderr)
        if kind == "RunCompleted":
            print(json.dumps(message))
            connection.close()
            return 0
        if kind in ("RunFailed", "RunCancelled"):
            connection.close()
            return 1
    return 3


if __name__ == "__main__":
    sys.exit(main())
