"""The Socket.IO protocol fuzzed through the real gateway, beside the OpenAPI fuzzing of REST.

Random and mutated Engine.IO and Socket.IO packets go over raw WebSockets: packets that are not
Socket.IO, packet types clients never send, namespaces nobody serves, ack ids of hundreds of digits,
binary events with wrong attachment counts, every documented event with a wrong type in every field,
payloads nested thousands of levels deep, sizes around the event and transport limits, and valid
events with random mutations. After each case a probe (a `typing` event with an ack id) follows:
the case's own ack (if it had an id) and the probe's must come, or the server must close the
connection cleanly (a close frame); never silence past a timeout, a dropped TCP connection, an
`internal_error`, a 5xx at the gateway or an error in the chat instance's log. Afterwards ordinary
clients log in, send and receive.

The run is seeded and bounded: `FUZZ_SEED=<n>` repeats one (the seed is printed), `FUZZ_SECONDS`
makes it longer than the default.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import requests
import socketio

from shared.raw_socketio import Closed, PollingClient, WebSocketClient
from shared.testing import SocketEvents

from .chat_load import PASSWORD, befriend, new_user

pytestmark = pytest.mark.system

EVENT_LIMIT = 64 * 1024  # MAX_CONTENT_LENGTH
TRANSPORT_LIMIT = 2 * EVENT_LIMIT
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "12"))
ANSWER_TIMEOUT = 5.0
PROBE_IDS = 7 * 10**17
# What an event may be refused with; anything else (internal_error above all) is a failure.
REFUSALS = {"bad_request", "validation_error", "not_found", "forbidden", "conflict", "payload_too_large",
            "unauthorized"}
# The events of docs/api.md and their fields.
EVENTS = {
    "send": ("conversation_id", "text", "client_id", "attachment_ids", "reply_to"),
    "typing": ("conversation_id",),
    "read": ("conversation_id", "message_id"),
    "edit": ("message_id", "text"),
    "delete": ("message_id",),
    "react": ("message_id", "emoji", "remove"),
}


class Case:
    """What one fuzz case sends (Engine.IO messages as they are) and the ack id it expects, if any."""

    def __init__(self, category: str, messages: list[str | bytes], ack_id: int | None = None) -> None:
        self.category = category
        self.messages = messages
        self.ack_id = ack_id

    def __repr__(self) -> str:
        shown = [m[:160] + (f"...({len(m)})" if len(m) > 160 else "") for m in self.messages]
        return f"{self.category}: {shown} ack={self.ack_id}"


class Fuzzer:
    def __init__(self, rng: random.Random, conversation_id: int, message_id: int) -> None:
        self.rng = rng
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.ack_ids = iter(range(1, 10**9))
        self.categories: dict[str, Callable[[], Case]] = {
            "no_socketio_packet": self.no_socketio_packet,
            "other_packet_types": self.other_packet_types,
            "bad_namespace": self.bad_namespace,
            "huge_ack_id": self.huge_ack_id,
            "binary_attachments": self.binary_attachments,
            "wrong_field_types": self.wrong_field_types,
            "deep_nesting": self.deep_nesting,
            "near_limits": self.near_limits,
            "mutated_valid_event": self.mutated_valid_event,
        }

    def case(self) -> Case:
        category = self.rng.choice(sorted(self.categories))
        return self.categories[category]()

    # -- values --------------------------------------------------------------------------------
    def junk(self, size: int | None = None) -> str:
        size = self.rng.randint(0, 40) if size is None else size
        alphabet = '0123456789[]{}",:-/\\ abcxyz\x00\x1e\u00e9\u2028\U0001f600'  # no lone surrogates: not text a WebSocket can carry
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def value(self, depth: int = 0):
        choices = [
            None, True, False, 0, -1, 2**31, 2**63, -(2**64), 10**99, 1.5, -0.0, 1e308, "", "x", " ",
            "x" * self.rng.randint(1, 5000), "\u0000", "\ud83d", "1", "🙂", [], {}, [1, 2], {"a": 1},
            self.rng.randint(-10**6, 10**6), self.junk(),
        ]
        if depth < 3:
            choices += [[self.value(depth + 1)], {"k": self.value(depth + 1)}]
        return self.rng.choice(choices)

    def valid_event(self) -> tuple[str, dict]:
        name = self.rng.choice(sorted(EVENTS))
        data = {"send": {"conversation_id": self.conversation_id, "text": f"fuzz {self.rng.random()}",
                         "client_id": secrets.token_hex(8)},
                "typing": {"conversation_id": self.conversation_id},
                "read": {"conversation_id": self.conversation_id, "message_id": self.message_id},
                "edit": {"message_id": self.message_id, "text": "edited by the fuzzer"},
                "delete": {"message_id": 10**9},
                "react": {"message_id": self.message_id, "emoji": "👍", "remove": self.rng.random() < 0.5},
                }[name]
        return name, data

    def event(self, payload: str, ack: bool = True) -> Case:
        ack_id = next(self.ack_ids) if ack else None
        return Case("", [f"42{ack_id if ack else ''}{payload}"], ack_id)

    # -- categories ----------------------------------------------------------------------------
    def no_socketio_packet(self) -> Case:
        rng = self.rng
        messages: list[str | bytes] = [rng.choice([
            "", rng.choice("0156789xb") + self.junk(), "4" + self.junk(), "4" + json.dumps(self.value()),
            "4" + "[" * rng.choice([10, 1000, 5000]), "4{" + '"a":{' * rng.choice([900, 3000]),
            "b" + self.junk(), rng.randbytes(rng.randint(0, 64)),
        ])]
        return Case("no_socketio_packet", messages)

    def other_packet_types(self) -> Case:
        rng = self.rng
        kind = rng.choice(["0", "1", "3", "4", "6", "7", "8", "9"])
        body = rng.choice(["", json.dumps(self.value()), self.junk(), str(rng.randint(0, 10**6)) + json.dumps([1])])
        return Case("other_packet_types", ["4" + kind + body])

    def bad_namespace(self) -> Case:
        namespace = "/" + self.rng.choice(["admin", "", "x" * 300, "?a=1", "/", self.junk(8).replace(",", "")])
        if self.rng.random() < 0.3:
            return Case("bad_namespace", [f"40{namespace},{json.dumps({'token': 'x'})}"])
        ack_id = next(self.ack_ids)
        name, data = self.valid_event()
        return Case("bad_namespace", [f"42{namespace},{ack_id}{json.dumps([name, data])}"])

    def huge_ack_id(self) -> Case:
        digits = self.rng.choice([99, 100, 101, 150, 5000])
        ack_id = "9" * digits
        name, data = self.valid_event()
        # Up to 100 digits the id is read and the ack comes; longer closes the connection.
        return Case("huge_ack_id", [f"42{ack_id}{json.dumps([name, data])}"], int(ack_id) if digits <= 100 else None)

    def binary_attachments(self) -> Case:
        rng = self.rng
        declared = rng.choice([0, 1, 2, 10, 11, 99, 10**12])
        sent = max(0, declared + rng.choice([-1, 0, 0, 1])) if declared <= 11 else rng.randint(0, 3)
        ack_id = next(self.ack_ids)
        placeholders = [{"_placeholder": True, "num": rng.choice([0, 1, 5, -1, "0", None])} for _ in range(2)]
        header = f"45{declared}-{ack_id}" + json.dumps(["send", {"conversation_id": self.conversation_id,
                                                                  "text": placeholders[0], "blobs": placeholders}])
        messages: list[str | bytes] = [header]
        messages += [rng.randbytes(rng.randint(0, 32)) if rng.random() < 0.9 else "4x" for _ in range(sent)]
        return Case("binary_attachments", messages)

    def wrong_field_types(self) -> Case:
        name, data = self.valid_event()
        for field in self.rng.sample(EVENTS[name], self.rng.randint(1, len(EVENTS[name]))):
            data[field] = self.value()
        payload = self.rng.choice([data, data, self.value(), [data]])  # the data itself of a wrong type too
        case = self.event(json.dumps([name, payload]))
        case.category = "wrong_field_types"
        return case

    def deep_nesting(self) -> Case:
        depth = self.rng.choice([60, 64, 65, 100, 950, 1000, 5000, 20000])
        nested = self.rng.choice(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
        name, data = self.valid_event()
        field = self.rng.choice(EVENTS[name])
        text = json.dumps([name, {**data, field: "NESTED"}]).replace('"NESTED"', nested)
        case = self.event(text)
        case.category = "deep_nesting"
        return case

    def near_limits(self) -> Case:
        size = self.rng.choice([EVENT_LIMIT - 100, EVENT_LIMIT - 2, EVENT_LIMIT + 50, TRANSPORT_LIMIT - 100,
                                TRANSPORT_LIMIT + 100])
        ack_id = next(self.ack_ids)
        head = f'2{ack_id}["send",{{"conversation_id":{self.conversation_id},"client_id":"big","text":"'
        fill = self.rng.choice(["x", "é", "🙂"])
        text = head + fill * max(0, (size - len(head.encode()) - 3) // len(fill.encode())) + '"}]'
        return Case("near_limits", ["4" + text], ack_id)

    def mutated_valid_event(self) -> Case:
        rng = self.rng
        name, data = self.valid_event()
        text = list(f"42{next(self.ack_ids)}{json.dumps([name, data])}")
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(1, len(text))
            operation = rng.choice(["flip", "insert", "delete", "duplicate"])
            if operation == "flip":
                text[position] = rng.choice('0123456789[]{}",:-/\\ aé\x00')
            elif operation == "insert":
                text[position:position] = list(self.junk(rng.randint(1, 5)))
            elif operation == "delete":
                del text[position:position + rng.randint(1, 5)]
            else:
                text[position:position] = text[position:position + rng.randint(1, 20)]
        return Case("mutated_valid_event", ["".join(text)])  # its ack id may be gone: the probe tells


def check_answer(answer) -> str:
    """What a well-formed ack says; fails on anything else."""
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
    if answer["ok"]:
        return "ok"
    code = answer.get("error", {}).get("code")
    assert code in REFUSALS, answer
    return code


class Connection:
    """A raw WebSocket through the gateway, connected as the fuzzing user; replaced once closed."""

    def __init__(self, url: str, token: str) -> None:
        self.client = WebSocketClient(url)
        assert self.client.connect({"token": token}).startswith("0{")


def run_case(connection: Connection, case: Case, probe_id: int, conversation_id: int, outcomes: Counter) -> bool:
    """Send the case and its probe; whether the connection is still open. Fails on silence, a broken
    connection or an answer outside the contract."""
    client = connection.client
    try:
        for message in case.messages:
            client.send_engineio(message)
        if case.ack_id is not None:
            outcomes[f"{case.category}: ack {check_answer(client.ack(case.ack_id, ANSWER_TIMEOUT))}"] += 1
        client.send(f'2{probe_id}["typing",{{"conversation_id":{conversation_id}}}]')
        probe = client.ack(probe_id, ANSWER_TIMEOUT)
        assert probe == {"ok": True}, probe
        outcomes[f"{case.category}: answered"] += 1
        return True
    except Closed as closed:
        assert closed.clean, f"{case!r}: {closed}"
        outcomes[f"{case.category}: closed {closed.code}"] += 1
        client.close()
        return False
    except TimeoutError:
        pytest.fail(f"no answer and no close within {ANSWER_TIMEOUT} s: {case!r}")


def appended(path: Path, offset: int) -> list[str]:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace").splitlines()


@pytest.fixture(scope="module")
def people(live_stack):
    base = live_stack.url
    alice, bob = new_user(base, "fuzz_a"), new_user(base, "fuzz_b")
    conversation_id = befriend(base, alice, bob)
    sent = requests.post(f"{base}/api/conversations/{conversation_id}/messages", json={"text": "react to me"},
                         headers=alice["headers"], timeout=10)
    assert sent.status_code == 201, sent.text
    return alice, bob, conversation_id, sent.json()["message"]["id"]


@pytest.mark.faults
def test_fuzzed_socket_packets_are_answered_or_closed_cleanly_and_the_server_stays_usable(live_stack, people):
    alice, bob, conversation_id, message_id = people
    seed = int(os.environ.get("FUZZ_SEED") or secrets.randbits(32))
    print(f"\nFUZZ_SEED={seed} FUZZ_SECONDS={FUZZ_SECONDS}")
    access_log, chat_log = Path(live_stack.log_dir, "nginx-access.log"), Path(live_stack.log_dir, "chat-0.log")
    access_from, chat_from = access_log.stat().st_size, chat_log.stat().st_size
    fuzzer = Fuzzer(random.Random(seed), conversation_id, message_id)
    outcomes: Counter = Counter()
    connection = Connection(live_stack.url, alice["token"])
    cases = 0
    deadline = time.monotonic() + FUZZ_SECONDS
    try:
        while time.monotonic() < deadline:
            case = fuzzer.case()
            cases += 1
            # Probe ids have digits of their own: a mutated case's ack id can never be one.
            if not run_case(connection, case, PROBE_IDS + cases, conversation_id, outcomes):
                connection = Connection(live_stack.url, alice["token"])
    finally:
        connection.client.close()
    print(f"{cases} cases (seed {seed}):")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {count:5d}  {outcome}")
    assert cases >= 50
    server_errors = [line for line in appended(access_log, access_from) if json.loads(line)["status"] >= 500]
    assert not server_errors, server_errors[:5]
    errors = [line for line in appended(chat_log, chat_from)
              if '"level": "error"' in line or "Traceback" in line or "handler error" in line]
    assert not errors, errors[:5]

    # An ordinary client logs in, sends and receives.
    token = requests.post(f"{live_stack.url}/auth/token", json={"username": bob["username"], "password": PASSWORD},
                          timeout=10).json()["access_token"]
    receiver = socketio.Client(reconnection=False)
    received = SocketEvents(receiver)
    receiver.connect(live_stack.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    sender = socketio.Client(reconnection=False)
    sender.connect(live_stack.url, auth={"token": alice["token"]}, transports=["polling"], wait_timeout=10)
    try:
        ack = sender.call("send", {"conversation_id": conversation_id, "text": "after the fuzzing",
                                   "client_id": secrets.token_hex(8)}, timeout=10)
        assert ack["ok"] is True, ack
        assert received.wait_for("message", lambda m: m["id"] == ack["message"]["id"], timeout=10)
    finally:
        sender.disconnect()
        receiver.disconnect()


def test_long_polling_through_the_gateway_answers_an_oversize_event_and_refuses_a_larger_body(live_stack, people):
    """The gateway lets an event between the event and transport limits reach chat (answered
    payload_too_large, as over a WebSocket); a body over the transport limit is its own 413."""
    alice, _, conversation_id, _ = people
    client = PollingClient(live_stack.url)
    try:
        assert client.connect({"token": alice["token"]}).startswith("0{")
        client.send('21["send",{"conversation_id":%d,"text":"%s"}]' % (conversation_id, "x" * (EVENT_LIMIT + 100)))
        ack = client.ack(1)
        assert ack["ok"] is False and ack["error"]["code"] == "payload_too_large", ack
        assert client.send('22["send",{"text":"%s"}]' % ("x" * TRANSPORT_LIMIT)) == 413
        client.send('23["send",{"conversation_id":%d,"text":"still here","client_id":"%s"}]'
                    % (conversation_id, secrets.token_hex(8)))
        assert client.ack(3)["ok"] is True
        assert all(status < 500 for status in client.statuses), client.statuses
    finally:
        client.close()
