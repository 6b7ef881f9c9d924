"""The ceiling: a bare Flask-SocketIO app with the chat service's transport and nothing else.

Same deployment as a chat instance (gunicorn -k gevent -w 1, Redis message queue,
per-user rooms), but no authentication and no database. On `send` it acknowledges
at once and emits `message` to the room of every member the client names, so the
benchmark's figures for the real service can be read as a fraction of what the
transport alone can do on this machine.

Client contract (only the load generator uses it):
- connect with `auth={"user_id": <int>}`; the socket joins the room `user:<id>`;
- `send` `{conversation_id, text, client_id, members: [user ids]}` acks
  `{ok: true, message}` and emits `message` to `user:<id>` for each member.

Run: `ECHO_REDIS_URL=redis://... ECHO_CHANNEL=... gunicorn -k gevent -w 1 bench.echo_app:app`
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timezone

from flask import Flask
from flask_socketio import SocketIO, join_room

app = Flask(__name__)
socketio = SocketIO(
    app,
    message_queue=os.environ.get("ECHO_REDIS_URL") or None,
    channel=os.environ.get("ECHO_CHANNEL", "flask-socketio"),
    cors_allowed_origins="*",
    async_mode="gevent",
    # The same engine.io settings as chat_service (its defaults), so the ceiling
    # differs from the product only by what the product does per message.
    ping_interval=60,
    ping_timeout=20,
    async_handlers=False,
)

# Message ids only have to increase, like the database's; one counter per instance
# is enough because the load generator checks order per sender connection.
_next_id = itertools.count(1)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@socketio.on("connect")
def on_connect(auth):
    user_id = (auth or {}).get("user_id")
    if not isinstance(user_id, int):
        return False
    join_room(f"user:{user_id}")
    return True


@socketio.on("send")
def on_send(data):
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        return {"ok": False, "error": {"code": "validation_error", "message": "members required"}}
    message = {
        "id": next(_next_id),
        "conversation_id": data.get("conversation_id"),
        "sender": None,
        "text": data.get("text"),
        "client_id": data.get("client_id"),
        "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    # One emit to all members' rooms: one Redis publish, as a well-built chat service would do.
    socketio.emit("message", message, to=[f"user:{member}" for member in data["members"]])
    return {"ok": True, "message": message}
