"""Message search at scale: `python -m bench.search_bench [--quick] [--messages N]`.

Bulk-loads a throwaway PostgreSQL database (chat_service's migrations, then COPY) with
1,000,000 messages (100,000 with --quick) in direct conversations of users who each
have 20 of them, with words drawn from a Zipf-like vocabulary, so some words occur in
a large share of all messages and others in a handful; a tenth of the users' chats went quiet
long ago (all their messages among the oldest 5 %), and 100 users share a group that holds a
fifth of the newer messages. Then it times
`GET /api/search/messages` in chat_service's own process (the Flask app with its
authentication, the query and the JSON; no network), one request at a time, for random
users: common words, rare words, two words, an as-you-type prefix, each with and without
`conversation_id`. Prints p50/p95/p99 against the 100 ms p95 target.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

PEERS_PER_USER = 10  # each user starts 10 direct conversations and is invited into 10: 20 each
# A tenth of the users went quiet: their chats got messages only among the oldest 5 %, so the
# newest messages of the table are all other people's (the case that punishes reading it by id).
QUIET_USERS = 0.10
QUIET_SINCE = 0.05
# And one big group: 100 active users, a fifth of all newer messages (the chats that hold too many
# messages to read them all, where the planner chooses between the text index and the id order).
GROUP_MEMBERS = 100
GROUP_SHARE = 0.20
VOCABULARY = 20_000
TARGET_P95_MS = 100.0
SEED = 20261128


@dataclass(frozen=True)
class Size:
    messages: int
    users: int
    queries: int


FULL = Size(1_000_000, 2_000, 400)
QUICK = Size(100_000, 500, 150)


def log(message: str) -> None:
    import sys

    print(f"[search {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def vocabulary(rng: random.Random) -> list[str]:
    """Pronounceable distinct words; rank 0 is the most common."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    ordered = []
    while len(ordered) < VOCABULARY:
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
        if word not in words:
            words.add(word)
            ordered.append(word)
    return ordered


def _copy(cursor, table: str, columns: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(value) for value in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def load(url: str, size: Size, words: list[str], rng: random.Random) -> dict[str, Any]:
    """Schema by the migrations, rows by COPY (the GIN index built once, after the load)."""
    import psycopg2

    from chat_service.migrate import upgrade

    upgrade(url)
    started = time.monotonic()
    connection = psycopg2.connect(url)
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("ALTER DATABASE " + connection.info.dbname + " SET synchronous_commit = off")
    cursor.execute("DROP INDEX ix_messages_search_vector")
    now = "2026-11-01 00:00:00+00"
    _copy(cursor, "users", "id, username, created_at", ((i, f"user{i}", now) for i in range(1, size.users + 1)))
    pairs = [(a, (a + k - 1) % size.users + 1) for a in range(1, size.users + 1) for k in range(1, PEERS_PER_USER + 1)]
    pairs = [(min(a, b), max(a, b)) for a, b in pairs]
    _copy(cursor, "conversations",
          "id, kind, direct_user_low_id, direct_user_high_id, created_by_id, created_at, last_activity_at",
          ((i, "direct", low, high, low, now, now) for i, (low, high) in enumerate(pairs, 1)))
    _copy(cursor, "conversation_members", "conversation_id, user_id, joined_at, last_read_message_id",
          itertools.chain.from_iterable(((i, low, now, 0), (i, high, now, 0)) for i, (low, high) in enumerate(pairs, 1)))
    weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))

    quiet = quiet_users(size)
    active = [i for i, (low, high) in enumerate(pairs) if low > quiet and high > quiet]
    group_id, members = group(size)
    _copy(cursor, "conversations", "id, kind, title, created_by_id, created_at, last_activity_at",
          [(group_id, "group", "everyone", members[0], now, now)])
    _copy(cursor, "conversation_members", "conversation_id, user_id, joined_at, last_read_message_id",
          ((group_id, member, now, 0) for member in members))

    def messages():
        for message_id in range(1, size.messages + 1):
            text = " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(3, 14)))
            if message_id <= QUIET_SINCE * size.messages:
                conversation = rng.randrange(len(pairs))
            elif rng.random() < GROUP_SHARE:
                yield message_id, group_id, rng.choice(members), text, now
                continue
            else:
                conversation = rng.choice(active)
            yield message_id, conversation + 1, pairs[conversation][message_id % 2], text, now

    batch = 100_000
    generated = messages()
    for _ in range(0, size.messages, batch):
        _copy(cursor, "messages", "id, conversation_id, sender_id, text, created_at", itertools.islice(generated, batch))
    cursor.execute("SELECT setval('messages_id_seq', %s)", (size.messages,))
    cursor.execute("CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)")
    cursor.execute("VACUUM ANALYZE")
    loaded = time.monotonic() - started
    cursor.execute("SELECT pg_size_pretty(pg_relation_size('ix_messages_search_vector'))")
    index_size = cursor.fetchone()[0]
    share = {}
    for rank in (0, 5000):
        cursor.execute("SELECT count(*) FROM messages WHERE search_vector @@ to_tsquery('simple', %s)", (words[rank],))
        share[f"messages_with_word_{rank + 1}"] = cursor.fetchone()[0]
    connection.close()
    return {"load_seconds": loaded, "gin_index_size": index_size, **share}


def quiet_users(size: Size) -> int:
    """Users 1..this one are the quiet ones."""
    return int(size.users * QUIET_USERS)


def group(size: Size) -> tuple[int, list[int]]:
    """The big group's id (after the direct conversations) and its members (active users)."""
    first = quiet_users(size) + 1
    return size.users * PEERS_PER_USER + 1, list(range(first, first + GROUP_MEMBERS))


def queries(size: Size, words: list[str], rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    """(kind, query string) pairs: a mix of common and rare words, with and without conversation_id."""
    common, middle, rare = words[:20], words[200:2000], words[5000:]
    makers = {
        "common word": lambda: rng.choice(common),
        "rare word": lambda: rng.choice(rare),
        "two words": lambda: f"{rng.choice(common)} {rng.choice(middle)}",
        "prefix as typed": lambda: rng.choice(middle)[:3],
    }
    mix = []
    quiet = quiet_users(size)
    group_id, members = group(size)
    for i in range(size.queries):
        kind = list(makers)[(i // 2) % len(makers)]
        # Every fifth search is by a quiet user and every fifth by a member of the big group
        # (far more than their share of users: the cases to watch).
        who = {4: "quiet user", 2: "group member"}.get(i % 5)
        user = (rng.randint(1, quiet) if who == "quiet user" else rng.choice(members) if who == "group member"
                else rng.randint(quiet + 1, size.users))
        params = {"q": makers[kind](), "user": str(user)}
        if i % 2:
            # One of the user's own conversations (ids follow the load's pairing), or the group.
            peer = rng.randrange(PEERS_PER_USER)
            own = (user - 1) * PEERS_PER_USER + peer + 1
            params["conversation_id"] = str(group_id if who == "group member" else own)
            kind += ", one conversation"
        mix.append((kind + (f", {who}" if who else ""), params))
    return mix


def measure(url: str, mix: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    from chat_service import create_app
    from chat_service.config import Config
    from chat_service.state import EXTENSION
    from shared import jwt

    ring = jwt.KeyRing.from_spec(jwt.KeyRing.generate_spec("bench"))
    app = create_app(Config(database_url=url, key_ring=ring, instance_id="search-bench"))
    client = app.test_client()
    tokens: dict[str, str] = {}
    per_kind: dict[str, list[float]] = {}
    timings, results = [], []
    try:
        for warm_up in (True, False):
            for kind, params in (mix[: len(mix) // 5] if warm_up else mix):
                params = dict(params)
                user = params.pop("user")
                if user not in tokens:
                    claims = jwt.make_claims(subject=user, issuer="chat-auth", audience="chat", lifetime_seconds=3600,
                                             extra={"name": f"user{user}", "typ": "access",
                                                    "created_at": "2026-11-01T00:00:00.000Z"})
                    tokens[user] = jwt.encode(claims, ring)
                started = time.perf_counter()
                response = client.get("/api/search/messages", query_string=params,
                                      headers={"Authorization": f"Bearer {tokens[user]}"})
                elapsed = (time.perf_counter() - started) * 1000.0
                if response.status_code != 200:
                    raise RuntimeError(f"search {params}: {response.status_code} {response.get_data(as_text=True)[:200]}")
                if not warm_up:
                    timings.append(elapsed)
                    results.append(len(response.get_json()["results"]))
                    per_kind.setdefault(kind, []).append(elapsed)
    finally:
        app.extensions[EXTENSION].shutdown()
    return {
        "queries": len(timings), **_percentiles(timings),
        "mean_results": statistics.mean(results),
        "by_kind": {kind: _percentiles(values) for kind, values in sorted(per_kind.items())},
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": ordered[-1]}


def run(quick: bool = False, messages: int | None = None) -> dict[str, Any]:
    from shared.database import normalize_database_url
    from shared.testing import temporary_postgres_database

    size = QUICK if quick else FULL
    if messages:
        size = Size(messages, size.users, size.queries)
    rng = random.Random(SEED)
    words = vocabulary(rng)
    with temporary_postgres_database("bench_search") as url:
        log(f"loading {size.messages:,} messages for {size.users:,} users into PostgreSQL")
        figures = {"messages": size.messages, "users": size.users,
                   "conversations_per_user": 2 * PEERS_PER_USER, **load(url, size, words, rng)}
        log(f"loaded in {figures['load_seconds']:.0f} s (GIN index {figures['gin_index_size']}); the commonest word "
            f"is in {figures['messages_with_word_1']:,} messages, the 5,001st in {figures['messages_with_word_5001']:,}; "
            f"timing {size.queries} searches")
        figures.update(measure(normalize_database_url(url), queries(size, words, rng)))
    log(f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    return figures


def table_row(figures: dict[str, Any] | None) -> tuple[str, str, str, str, str, str]:
    """The row `python -m bench` adds to its table."""
    if not figures or "p95_ms" not in figures:
        return ("Message search p50 / p95 / p99 ms", (figures or {}).get("error", "—"), "—", "—", "p95 < 100 ms", "—")
    return (
        f"Message search p50 / p95 / p99 ms, `GET /api/search/messages` in-process, {figures['messages']:,} "
        f"messages in PostgreSQL, users in {figures['conversations_per_user']} direct conversations, some quiet "
        f"for long, some also in a group of {GROUP_MEMBERS} holding {GROUP_SHARE:.0%} of the messages "
        "(common and rare words, two words, prefix; with and without conversation_id)",
        f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f} / {figures['p99_ms']:.1f}", "—", "—", "p95 < 100 ms",
        "PASS" if figures["p95_ms"] < TARGET_P95_MS else "**MISS**",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 messages instead of 1,000,000")
    parser.add_argument("--messages", type=int, help="number of messages to load (overrides the size)")
    args = parser.parse_args(argv)
    figures = run(args.quick, args.messages)
    for kind, values in figures["by_kind"].items():
        print(f"  {kind:<36} p50 {values['p50_ms']:6.1f}  p95 {values['p95_ms']:6.1f}  max {values['max_ms']:6.1f} ms")
    row = table_row(figures)
    print("| Figure | chat_service | target | met |\n|---|---|---|---|")
    print(f"| {row[0]} | {row[1]} | {row[4]} | {row[5]} |")


if __name__ == "__main__":
    main()
