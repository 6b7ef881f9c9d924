"""Each service's OpenAPI document is valid and lists exactly the routes the service has."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from .openapi_documents import REPO_ROOT, SERVICES, app_operations, create_test_app, document_operations, load_document


@pytest.mark.parametrize("service", SERVICES)
def test_document_is_valid_openapi_3_1(service):
    document = load_document(service)
    assert document["openapi"].startswith("3.1.")
    validate(document)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_documented_and_every_documented_route_exists(service):
    served = app_operations(create_test_app(service))
    documented = document_operations(load_document(service))
    assert sorted(served - documented) == [], "routes missing from the document"
    assert sorted(documented - served) == [], "documented routes the service does not have"


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_its_errors_with_the_envelope(service):
    document = load_document(service)
    error_responses = document["components"]["responses"]
    for name, response in error_responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name
    envelope = document["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    assert envelope["properties"]["error"]["required"] == ["code", "message"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response.get("$ref", "").startswith("#/components/responses/"), (method, path, status)


@pytest.mark.parametrize("service", SERVICES)
def test_document_declares_cookie_and_bearer_authentication(service):
    schemes = load_document(service)["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "type": "apiKey", "in": "cookie", "name": "access_token"}


# The public contract's events (docs/api.md); the document may describe more, never fewer.
CONTRACT_CLIENT_EVENTS = {"send", "typing", "read"}
CONTRACT_SERVER_EVENTS = {"message", "typing", "read", "presence", "friend_request", "friend_added", "conversation"}


def test_chat_document_describes_the_socketio_events_the_service_handles_and_emits():
    events = load_document("chat_service")["x-socketio-events"]
    app = create_test_app("chat_service")
    # Besides connect and disconnect, the catch-all "*" (it answers events of no known name) and the
    # refused-event handler (an object, not a name a client can send) are no events of the contract.
    handled = {name for name in app.extensions["socketio"].server.handlers["/"]
               if isinstance(name, str)} - {"connect", "disconnect", "*"}
    assert set(events["clientToServer"]) == handled
    assert CONTRACT_CLIENT_EVENTS <= handled
    # Server events are queued by the actions as queue_event(session, "<name>", ...).
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "chat_service").rglob("*.py") if "tests" not in p.parts)
    emitted = set(re.findall(r'queue_event\(\s*\w+,\s*"(\w+)"', source))
    assert emitted and set(events["serverToClient"]) == emitted
    assert CONTRACT_SERVER_EVENTS <= emitted
    schemas = load_document("chat_service")["components"]["schemas"]
    for direction in ("clientToServer", "serverToClient"):
        for name, event in events[direction].items():
            for part in ("payload", "ack"):
                if part in event:
                    assert event[part]["$ref"].removeprefix("#/components/schemas/") in schemas, (name, part)


@pytest.mark.parametrize("bad_id", ["0", "007", "1000000000000000000", "9223372036854775808", "x"])
def test_a_path_id_that_cannot_exist_is_404_for_every_method(bad_id):
    # Werkzeug answers 405 when a converter refuses a value on a path that has a rule
    # for another method; ids must be refused by the route pattern instead.
    document = load_document("chat_service")
    client = create_test_app("chat_service").test_client()
    checked = 0
    for path, item in document["paths"].items():
        if "_id}" not in path:
            continue
        concrete = re.sub(r"\{\w+_id\}", bad_id, path)
        for method in item:
            response = client.open(concrete, method=method.upper(), json={})
            assert response.status_code == 404, (method, concrete, response.status_code)
            assert response.get_json()["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 6
