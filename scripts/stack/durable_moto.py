"""
A moto server that keeps what it was given: `python durable_moto.py HOST PORT JOURNAL`.

moto keeps everything in memory. This server appends each request that changed state (and succeeded)
to JOURNAL, one JSON line, and on start replays the journal in-process before it opens its port, so
"ready" means "restored".

Why not moto's own recorder (MOTO_ENABLE_RECORDING): it records every request, reads included, and
replays them with whatever moto draws then. moto draws identifiers at random (Cloud Map namespace,
service and operation ids, KMS key ids), so a replayed CreateService gets a new id and the recorded
RegisterInstance naming the old one fails, and a client holding an id is left with a dangling one.
Here each change runs with a random source of its own, seeded from the journal, and at its journaled
time: on replay it draws the same ids and stamps the same dates (Parameter Store's LastModifiedDate,
which dates a key's creation) as the first time.

What is not journaled, deliberately: reads, and message traffic (EventBridge PutEvents and SQS sends,
receives and deletes). Queues and rules are journaled; their messages are not. A message lives about a
second on the local stack (the EventBridge stand-in polls every second); replaying every event ever
published without the receives that consumed it would deliver each one again, and replaying the
receives needs the wall-clock visibility timeouts and long polls they ran under.
"""

import copy
import datetime
import io
import json
import os
import random
import sys
import threading
from typing import Any
from urllib.parse import parse_qs

import moto.core.utils as moto_utils
from moto.moto_api._internal import mock_random

_real_utcnow = moto_utils.utcnow
_real_getrandbits = mock_random.getrandbits
_real_random = mock_random.random
# Set while this thread runs a journaled change: the change's own clock and random source.
_change = threading.local()


def _utcnow() -> datetime.datetime:
    at = getattr(_change, "at", None)
    return at if at is not None else _real_utcnow()


def _getrandbits(bits: int) -> int:
    source = getattr(_change, "random", None)
    return source.getrandbits(bits) if source is not None else _real_getrandbits(bits)


def _random() -> float:
    source = getattr(_change, "random", None)
    return source.random() if source is not None else _real_random()


# Patched before any backend is imported, so `from moto.core.utils import utcnow` binds this one.
# Every draw of moto's shared random (choice, uuid4, ...) goes through these two.
moto_utils.utcnow = _utcnow
mock_random.getrandbits = _getrandbits  # type: ignore[method-assign]
mock_random.random = _random  # type: ignore[method-assign]

import moto.cloudwatch.responses as cloudwatch_responses  # noqa: E402
import moto.dynamodb.models as dynamodb_models  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from werkzeug.serving import run_simple  # noqa: E402
from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

class _ReplayCopy:
    """
    moto backs up every table a TransactWriteItems names (a deep copy, to roll back a failed one), so
    each transaction costs the size of its tables and a replay grows with the square of the journal.
    A replayed change succeeded the first time from the same state, so a replay skips that backup.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(_change, "replaying", False) and isinstance(value, dynamodb_models.Table):
            return value
        return copy.deepcopy(value, memo)


dynamodb_models.copy = _ReplayCopy()  # type: ignore[assignment]


def _describe_alarm_history(self: Any) -> Any:
    """
    DescribeAlarmHistory's state updates, which moto records but does not serve (it answers 500): the
    rollouts' alarm gate reads them to catch an alarm that went to ALARM and back between two polls.
    moto keeps, at each update, the state it replaced; the transitions are consecutive pairs of those
    and the current state. Newest first, as CloudWatch answers.
    """
    name = self._get_param("AlarmName")
    start = _naive_utc(self._get_param("StartDate"))
    alarm = self.cloudwatch_backend.alarms.get(name)
    items = []
    if alarm is not None and self._get_param("HistoryItemType") in (None, "StateUpdate"):
        states = [(state, reason, at) for _, reason, _, state, at in alarm.history]
        states.append((alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp))
        for (old, _, _), (new, reason, at) in zip(states, states[1:]):
            if start is not None and at < start:
                continue
            items.append(
                {
                    "AlarmName": name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": at,
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": f"Alarm updated from {old} to {new}",
                    "HistoryData": json.dumps(
                        {
                            "version": "1.0",
                            "oldState": {"stateValue": old},
                            "newState": {"stateValue": new, "stateReason": reason},
                        }
                    ),
                }
            )
    return ActionResult({"AlarmHistoryItems": list(reversed(items))})


def _naive_utc(value: Any) -> datetime.datetime | None:
    """A request's timestamp (epoch seconds, ISO text or a datetime) as moto stamps its own: naive UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    elif isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


cloudwatch_responses.CloudWatchResponse.describe_alarm_history = _describe_alarm_history  # type: ignore[attr-defined]

READ_PREFIXES = (
    "Get", "Describe", "List", "Discover", "Query", "Scan", "BatchGet", "TransactGet",
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom", "Sign", "Verify",
)
MESSAGE_TRAFFIC = {
    "PutEvents", "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
    "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue",
}
# Set again on replay (the new server's own host and port) or computed from the body.
DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def action_of(method: str, headers: dict[str, str], query: str, body: bytes) -> str | None:
    target = headers.get("x-amz-target")
    if target:
        return target.split(".")[-1]
    for source in (query, body.decode("utf-8", "replace") if method == "POST" else ""):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return None


def is_journaled(method: str, path: str, action: str | None) -> bool:
    if path.startswith("/moto-api/"):
        return False
    if action is None:
        return method not in ("GET", "HEAD", "OPTIONS")
    return not action.startswith(READ_PREFIXES) and action not in MESSAGE_TRAFFIC


def run_change(
    app: Any, environ: dict[str, Any], at: datetime.datetime, seed: int, replaying: bool = False
) -> tuple[str, Any, bytes]:
    _change.at, _change.random, _change.replaying = at, random.Random(seed), replaying
    try:
        app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        return status, headers, b"".join(app_iter)
    finally:
        _change.at, _change.random, _change.replaying = None, None, False


def succeeded(status: str) -> bool:
    return int(status.split(" ", 1)[0]) < 400


class Journal:
    """The journal file, appended under a lock that also runs the changes it records one at a time."""

    def __init__(self, path: str) -> None:
        # Rewriting replaces the file by rename: anything but a regular file (a device such as
        # /dev/null, a directory) would be replaced, not written to.
        if os.path.exists(path) and not os.path.isfile(path):
            raise SystemExit(f"the journal {path} exists and is not a regular file")
        self.path = path
        self.lock = threading.Lock()

    def load(self) -> list[dict[str, Any]]:
        if not os.path.exists(self.path):
            return []
        entries = []
        with open(self.path, encoding="utf-8") as file:
            for line in file:
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    # A line cut short by a kill mid-write: its answer never reached the caller.
                    continue
        return entries

    def rewrite(self, entries: list[dict[str, Any]]) -> None:
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            for entry in entries:
                file.write(json.dumps(entry) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

    def append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")


class JournalingApp:
    """WSGI middleware: changes run one at a time, and each that succeeds is journaled."""

    def __init__(self, app: Any, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        body = read_body(environ)
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        if path == "/moto-api/reset" and method == "POST":
            # moto forgets everything: so does the journal.
            with self.journal.lock:
                self.journal.rewrite([])
                return self.app(environ, start_response)
        if not is_journaled(method, path, action_of(method, headers, query, body)):
            return self.app(environ, start_response)
        with self.journal.lock:
            at, seed = _real_utcnow(), random.SystemRandom().getrandbits(64)
            status, response_headers, response = run_change(self.app, environ, at, seed)
            if succeeded(status):
                self.journal.append(
                    {
                        "at": at.isoformat(),
                        "seed": seed,
                        "method": method,
                        "path": path,
                        "query": query,
                        "headers": {k: v for k, v in headers.items() if k not in DROPPED_HEADERS},
                        "body": body.decode("latin-1"),
                    }
                )
        start_response(status, list(response_headers.items()))
        return [response]


def read_body(environ: dict[str, Any]) -> bytes:
    """Reads the body once and puts it back, so both moto and the journal see it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0:
        body = environ["wsgi.input"].read(length)
    else:
        body = environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def replay(app: Any, journal: Journal, host: str) -> int:
    """Replays the journal in order, each change at its time and with its seed; keeps what replayed."""
    replayed = []
    for entry in journal.load():
        environ = EnvironBuilder(
            method=entry["method"],
            path=entry["path"],
            query_string=entry["query"],
            headers={**entry["headers"], "host": host},
            data=entry["body"].encode("latin-1"),
        ).get_environ()
        at = datetime.datetime.fromisoformat(entry["at"])
        status, _, response = run_change(app, environ, at, entry["seed"], replaying=True)
        if succeeded(status):
            replayed.append(entry)
        else:
            print(f"replay: {entry['method']} {entry['path']} answered {status}: {response[:300]!r}", flush=True)
    journal.rewrite(replayed)
    return len(replayed)


def main(host: str, port: int, journal_path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(journal_path)), exist_ok=True)
    app = DomainDispatcherApplication(create_backend_app)
    journal = Journal(journal_path)
    started = _real_utcnow()
    count = replay(app, journal, f"{host}:{port}")
    seconds = (_real_utcnow() - started).total_seconds()
    print(f"replayed {count} changes from {journal_path} in {seconds:.2f} s", flush=True)
    run_simple(host, port, JournalingApp(app, journal), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
