"""The load generator: real Socket.IO clients (asyncio `socketio.AsyncClient`) in worker processes.

Each worker process owns whole conversations (both members' sockets), so it can
time `send` -> the peer's `message` event on one monotonic clock and check every
delivery itself. The parent talks to workers over a pipe:

    parent -> worker: spec (at start), then {"go": <monotonic start time>} or "stop"
    worker -> parent: {"ready": ...} after connecting, then the result dict

Kinds of work (`spec["mode"]`):
- "saturate": every conversation sends in a closed loop, one message in flight
  (the next `send` waits for the previous ack), for `duration` seconds;
- "rate": `rate` messages/s spread evenly over the conversations, for `duration`;
- "idle": connect `idle_count` sockets that do nothing until "stop".

Messages are numbered per conversation; a receiving socket must see each
acknowledged message exactly once and in send order.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

ACK_TIMEOUT = 10.0
CONNECT_TIMEOUT = 20.0
DRAIN_TIMEOUT = 10.0
CONNECT_CONCURRENCY = 100


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit (thousands of sockets need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Conversation:
    """One conversation driven by this worker: member 0 sends, every member receives."""

    id: int
    members: list[dict[str, Any]]  # {"user_id", "auth", "url"}
    send_members: bool
    sockets: list[socketio.AsyncClient] = field(default_factory=list)
    next_seq: int = 0
    acked: list[tuple[int, int]] = field(default_factory=list)  # (seq, message id) in send order
    # per member index: the seqs received, in arrival order
    received: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    received_ids: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


class Worker:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.tag = spec["tag"]
        self.conversations = [
            Conversation(c["id"], c["members"], spec.get("send_members", False)) for c in spec.get("conversations", [])
        ]
        self.by_id = {c.id: c for c in self.conversations}
        self.sent_at: dict[str, float] = {}
        self.delivered_count: dict[str, int] = defaultdict(int)
        self.completed_at: list[float] = []
        self.latencies_ms: list[float] = []
        self.ack_latencies_ms: list[float] = []
        self.sent = 0
        self.ack_errors: dict[str, int] = defaultdict(int)
        self.ack_timeouts = 0
        self.late_sends = 0
        self.connect_failures = 0
        self.connect_errors: dict[str, int] = defaultdict(int)
        self.transports: set[str] = set()
        self.unexpected_messages = 0
        self.idle_sockets: list[socketio.AsyncClient] = []
        self.http: aiohttp.ClientSession | None = None

    # -- connecting ---------------------------------------------------------
    def _client(self) -> socketio.AsyncClient:
        return socketio.AsyncClient(reconnection=False, http_session=self.http, request_timeout=CONNECT_TIMEOUT)

    async def _connect(self, sio: socketio.AsyncClient, url: str, auth: dict, gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                await sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
            except Exception as exc:  # any failure is counted, the run goes on
                self.connect_failures += 1
                self.connect_errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                return False
            self.transports.add(sio.transport())
            return True

    async def connect_conversations(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        jobs = []
        for conv in self.conversations:
            for index, member in enumerate(conv.members):
                sio = self._client()
                sio.on("message", self._on_message_handler(conv, index))
                conv.sockets.append(sio)
                jobs.append(self._connect(sio, member["url"], member["auth"], gate))
        await asyncio.gather(*jobs)

    async def connect_idle(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        deadline = time.monotonic() + self.spec.get("connect_budget", 120.0)
        jobs = []
        for i in range(self.spec["idle_count"]):
            auth = self.spec["idle_auths"][i % len(self.spec["idle_auths"])]
            url = self.spec["idle_urls"][i % len(self.spec["idle_urls"])]
            sio = self._client()
            self.idle_sockets.append(sio)
            jobs.append(self._connect_before(sio, url, auth, gate, deadline))
        await asyncio.gather(*jobs)

    async def _connect_before(self, sio, url, auth, gate, deadline) -> None:
        if time.monotonic() > deadline:
            self.connect_failures += 1
            self.connect_errors["connect budget exhausted"] += 1
            return
        await self._connect(sio, url, auth, gate)

    def _on_message_handler(self, conv: Conversation, index: int):
        async def on_message(message: dict) -> None:
            now = time.monotonic()
            client_id = message.get("client_id") or ""
            parts = client_id.split("-")
            if len(parts) != 3 or parts[0] != self.tag or int(parts[1]) != conv.id:
                self.unexpected_messages += 1
                return
            seq = int(parts[2])
            conv.received[index].append(seq)
            conv.received_ids[index].append(message.get("id"))
            sent = self.sent_at.get(client_id)
            if sent is not None and index != 0:
                self.latencies_ms.append((now - sent) * 1000.0)
            self.delivered_count[client_id] += 1
            if self.delivered_count[client_id] == len(conv.members):
                self.completed_at.append(now)

        return on_message

    # -- sending ------------------------------------------------------------
    async def send_one(self, conv: Conversation) -> None:
        seq = conv.next_seq
        conv.next_seq += 1
        client_id = f"{self.tag}-{conv.id}-{seq}"
        payload: dict[str, Any] = {"conversation_id": conv.id, "text": f"bench message {seq}", "client_id": client_id}
        if conv.send_members:
            payload["members"] = [m["user_id"] for m in conv.members]
        started = time.monotonic()
        self.sent_at[client_id] = started
        self.sent += 1
        try:
            ack = await conv.sockets[0].call("send", payload, timeout=ACK_TIMEOUT)
        except socketio.exceptions.TimeoutError:
            self.ack_timeouts += 1
            return
        except Exception as exc:  # a dropped socket: counted, the conversation stops
            self.ack_errors[type(exc).__name__] += 1
            raise
        self.ack_latencies_ms.append((time.monotonic() - started) * 1000.0)
        if isinstance(ack, dict) and ack.get("ok"):
            conv.acked.append((seq, ack["message"]["id"]))
        else:
            code = (ack or {}).get("error", {}).get("code", "bad_ack") if isinstance(ack, dict) else "bad_ack"
            self.ack_errors[code] += 1

    async def saturate(self, conv: Conversation, go: float, end: float) -> None:
        await asyncio.sleep(max(0.0, go - time.monotonic()))
        while time.monotonic() < end:
            try:
                await self.send_one(conv)
            except Exception:
                return

    async def paced(self, conv: Conversation, go: float, end: float, interval: float, offset: float) -> None:
        due = go + offset
        while due < end and time.monotonic() < end:  # a late schedule is dropped, not caught up
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                self.late_sends += 1
            try:
                await self.send_one(conv)
            except Exception:
                return
            due += interval

    async def drain(self) -> None:
        """Wait (bounded) until every acknowledged message reached every member socket."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            missing = sum(
                1
                for conv in self.conversations
                for seq, _ in conv.acked
                if self.delivered_count[f"{self.tag}-{conv.id}-{seq}"] < len(conv.members)
            )
            if not missing:
                return
            await asyncio.sleep(0.1)

    # -- checking -----------------------------------------------------------
    def correctness(self) -> dict[str, int]:
        lost = duplicated = out_of_order = 0
        for conv in self.conversations:
            acked_seqs = [seq for seq, _ in conv.acked]
            for index in range(len(conv.members)):
                seen = conv.received[index]
                counts: dict[int, int] = defaultdict(int)
                for seq in seen:
                    counts[seq] += 1
                lost += sum(1 for seq in acked_seqs if counts[seq] == 0)
                duplicated += sum(n - 1 for n in counts.values() if n > 1)
                ids = conv.received_ids[index]
                out_of_order += sum(1 for a, b in zip(seen, seen[1:]) if b <= a)
                out_of_order += sum(1 for a, b in zip(ids, ids[1:]) if b <= a)
        return {"lost": lost, "duplicated": duplicated, "out_of_order": out_of_order}

    async def close_all(self) -> None:
        sockets = [s for c in self.conversations for s in c.sockets] + self.idle_sockets
        await asyncio.gather(*(s.disconnect() for s in sockets if s.connected), return_exceptions=True)


async def _run(spec: dict[str, Any], conn) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(spec)
    # No cookie jar: the gateway's sticky-route cookie must not pin every socket of a process to one instance.
    worker.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())
    try:
        if spec["mode"] == "idle":
            await worker.connect_idle()
        else:
            await worker.connect_conversations()
        conn.send(
            {
                "ready": True,
                "connected": sum(1 for s in worker.idle_sockets if s.connected)
                + sum(1 for c in worker.conversations for s in c.sockets if s.connected),
                "connect_failures": worker.connect_failures,
                "connect_errors": dict(worker.connect_errors),
                "transports": sorted(worker.transports),
            }
        )
        cpu_before = cpu_seconds()  # idle holders count from here, message phases from "go"
        wall_before = time.monotonic()
        command = await loop.run_in_executor(None, conn.recv)
        if spec["mode"] != "idle":
            cpu_before = cpu_seconds()
            wall_before = time.monotonic()
        if spec["mode"] == "idle":
            while command != "stop":  # hold the sockets until told otherwise
                command = await loop.run_in_executor(None, conn.recv)
        else:
            go = command["go"]
            end = go + spec["duration"]
            if spec["mode"] == "saturate":
                tasks = [worker.saturate(c, go, end) for c in worker.conversations if c.sockets[0].connected]
            else:
                interval = len(spec["all_conversation_ids"]) / spec["rate"]
                position = {cid: i for i, cid in enumerate(spec["all_conversation_ids"])}
                tasks = [
                    worker.paced(c, go, end, interval, interval * position[c.id] / len(position))
                    for c in worker.conversations
                    if c.sockets[0].connected
                ]
            await asyncio.gather(*tasks)
            await worker.drain()
        result = {
            "mode": spec["mode"],
            "cpu_seconds": cpu_seconds() - cpu_before,
            "wall_seconds": time.monotonic() - wall_before,
            "sent": worker.sent,
            "acked": sum(len(c.acked) for c in worker.conversations),
            "ack_errors": dict(worker.ack_errors),
            "ack_timeouts": worker.ack_timeouts,
            "late_sends": worker.late_sends,
            "latencies_ms": worker.latencies_ms,
            "ack_latencies_ms": worker.ack_latencies_ms,
            "completed_at": worker.completed_at,
            "acked_by_conversation": {c.id: c.acked for c in worker.conversations},
            "unexpected_messages": worker.unexpected_messages,
            "still_connected": sum(1 for s in worker.idle_sockets if s.connected)
            + sum(1 for c in worker.conversations for s in c.sockets if s.connected),
            **worker.correctness(),
        }
        conn.send(result)
    finally:
        await worker.close_all()
        await worker.http.close()


def worker_main(spec: dict[str, Any], conn) -> None:
    logging.basicConfig(level=logging.CRITICAL)
    raise_open_file_limit()
    asyncio.run(_run(spec, conn))


class WorkerPool:
    """Start worker processes for one phase, wait until they are connected, run them, collect results."""

    def __init__(self, specs: list[dict[str, Any]]):
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for spec in specs:
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(spec, child), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        self.pids = [p.pid for p in self.processes]

    def _recv(self, pipe, timeout: float) -> dict[str, Any]:
        if not pipe.poll(timeout):
            raise TimeoutError("a load worker did not answer in time")
        return pipe.recv()

    def wait_ready(self, timeout: float = 180.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        return [self._recv(p, max(0.1, deadline - time.monotonic())) for p in self.pipes]

    def go(self, lead: float = 0.5) -> float:
        start = time.monotonic() + lead
        for pipe in self.pipes:
            pipe.send({"go": start})
        return start

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send("stop")

    def results(self, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        return [self._recv(p, max(0.1, deadline - time.monotonic())) for p in self.pipes]

    def close(self) -> None:
        for process in self.processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]
