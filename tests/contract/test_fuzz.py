"""Contract fuzzing: generated requests against the running services, through the gateway.

For every operation of each service's served OpenAPI document, schemathesis
generates requests that fit the document (positive) and requests that break it
(negative), sent with a real user's Bearer token. Every response must be a
non-5xx, with a status code, content type and body the document declares.

Random ids almost never name a real row, so operations with ids in their path
get a third round on real ones: a conversation with a friend, a pending friend
request of the fuzzing user and the friend (with an avatar), with generated
queries and bodies.

Findings are collected across all operations (not stopped at the first), so one
run reports everything; the summary names the operations and example counts.
"""

from __future__ import annotations

import io
import secrets
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.system



def status_documented_or_uri_too_long(ctx, response, case):
    """The operation documents the status, or the gateway refused a request line over its limit.

    A generated query can make the request line longer than the 4094 bytes any request may have
    (docs/api.md, "Limits"); the gateway answers every such request 414 `uri_too_long` before a
    service sees it, whatever the operation (tests/system/test_hostile_input.py checks that answer).
    """
    if response.status_code == 414 and response.json().get("error", {}).get("code") == "uri_too_long":
        return None
    return status_code_conformance(ctx, response, case)


CHECKS = [not_a_server_error, status_documented_or_uri_too_long, content_type_conformance,
          response_schema_conformance]
EXAMPLES_PER_MODE = 25
# The docs page and the document itself are static files; fuzzing them finds nothing.
FRAMING_HEADERS = {"content-length", "transfer-encoding", "host", "connection"}
NOT_FUZZED = {"/auth/docs", "/auth/openapi.json", "/api/docs", "/api/openapi.json"}


def api_user(base: str, prefix: str) -> tuple[str, requests.Session]:
    username = f"{prefix}_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    registered = requests.post(f"{base}/auth/register", timeout=10,
                               json={"username": username, "email": f"{username}@example.com", "password": password})
    assert registered.status_code == 201, registered.text
    token = requests.post(f"{base}/auth/token", json={"username": username, "password": password}, timeout=10)
    assert token.status_code == 200, token.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return username, session


@pytest.fixture
def fuzz_user(live_stack) -> tuple[dict[str, str], dict[str, int]]:
    """The fuzzing user's headers, and real ids it may use: {path parameter: id}. One per
    service: fuzzing auth ends the user's sessions (logout, password change), which chat
    then refuses at once."""
    base = live_stack.url
    name, me = api_user(base, "fuzz")
    _, friend = api_user(base, "fuzzfriend")
    _, stranger = api_user(base, "fuzzstranger")
    request_id = friend.post(f"{base}/api/friend-requests", json={"username": name}, timeout=10).json()["request"]["id"]
    conversation_id = me.post(f"{base}/api/friend-requests/{request_id}/accept", timeout=10).json()["conversation_id"]
    friend.post(f"{base}/api/conversations/{conversation_id}/messages", json={"text": "hi"}, timeout=10).raise_for_status()
    pending = stranger.post(f"{base}/api/friend-requests", json={"username": name}, timeout=10).json()["request"]["id"]
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(picture, format="PNG")
    avatar = friend.put(f"{base}/api/me/avatar", files={"file": ("me.png", picture.getvalue(), "image/png")}, timeout=10)
    avatar.raise_for_status()
    return dict(me.headers), {"conversation_id": conversation_id, "request_id": pending,
                              "user_id": avatar.json()["user"]["id"]}


def fuzz_operation(operation, mode: GenerationMode, base_url: str, headers: dict[str, str],
                   path_parameters: dict[str, int] | None = None) -> tuple[int, list[str]]:
    """Run one operation's examples; returns (examples run, distinct findings)."""
    examples = 0
    findings: list[str] = []
    seen: set[str] = set()
    session = requests.Session()

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        nonlocal examples
        examples += 1
        # Headers that frame the request are the HTTP client's, not the API's parameters: a generated
        # `Content-Length: j"F*` is refused by the gateway before any service (400 `bad_request`, see
        # docs/api.md), which says nothing about the operation's contract.
        for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
            del case.headers[name]
        try:
            case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=15)
        except (AssertionError, FailureGroup) as failure:
            # One entry per kind of failure (its "- <code> <title>" lines), with the first reproduction.
            kinds = {line for line in str(failure).splitlines() if line.startswith("- ")}
            if not kinds <= seen:
                seen.update(kinds)
                findings.append(f"{operation.label} [{mode.value}]: {str(failure).strip()}")

    try:
        run()
    except Unsatisfiable:
        pass  # negative mode: nothing in this operation can be made invalid (no parameters, no body)
    return examples, findings


@pytest.mark.parametrize("prefix", ["/auth", "/api"])
def test_generated_requests_get_documented_answers_and_never_a_server_error(live_stack, fuzz_user, prefix):
    headers, real_ids = fuzz_user
    schema = schemathesis.openapi.from_url(f"{live_stack.url}{prefix}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.path not in NOT_FUZZED]
    assert len(fuzzed) >= 8, [op.label for op in operations]

    examples: Counter[str] = Counter()
    findings: list[str] = []
    for operation in fuzzed:
        rounds = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        path_names = {p.name for p in operation.path_parameters}
        if path_names and path_names <= set(real_ids):
            rounds.append((GenerationMode.POSITIVE, {name: real_ids[name] for name in path_names}))
        for mode, path_parameters in rounds:
            count, found = fuzz_operation(operation, mode, live_stack.url, headers, path_parameters)
            examples[operation.label] += count
            findings.extend(found)

    summary = "\n".join(f"  {label}: {count} examples" for label, count in sorted(examples.items()))
    print(f"\n{prefix}: {len(fuzzed)} operations, {sum(examples.values())} examples\n{summary}")
    assert not findings, "\n\n".join(findings)
    if prefix == "/api":  # the real-id round got past validation into the conversation
        history = requests.get(f"{live_stack.url}/api/conversations/{real_ids['conversation_id']}/messages",
                               headers=headers, params={"limit": 100}, timeout=10).json()["messages"]
        assert len(history) > 1
