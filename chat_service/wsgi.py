"""gunicorn entry point: `gunicorn -k gevent -w 1 --worker-connections 12000
--no-control-socket -b 127.0.0.1:PORT chat_service.wsgi:app`."""

import atexit

import gevent

from shared.logging import configure_logging

from . import create_app
from .collector import Collector
from .config import Config
from .state import EXTENSION

config = Config.from_env()
configure_logging("chat_service", config.log_level)
app = create_app(config)
# On SIGTERM gunicorn lets requests finish and the worker exits: drop this
# instance's presence so the survivors announce its users offline at once.
atexit.register(app.extensions[EXTENSION].shutdown)
# From the start, not only once a socket connects here: an instance nobody is connected to
# still applies deleted accounts to the database its REST answers come from.
if app.extensions[EXTENSION].deleted_accounts is not None:
    app.extensions[EXTENSION].maintenance.ensure_started()
    app.extensions[EXTENSION].session_ends.ensure_started()
# python-socketio subscribes to the queue only when the first socket connects; until then this
# instance would miss other instances' events, and with them the changes they drop from its lookup
# cache (members, friendships, users), which its REST answers rely on. So subscribe now.
server = app.extensions[EXTENSION].socketio.server
if not server.manager_initialized:
    server.manager_initialized = True
    server.manager.initialize()
# Greenlets do not record the stack and greenlet that spawned them (a debugging aid gevent keeps
# by default): 44 fewer tracked objects and 7 KB less per open WebSocket (docs/benchmarks.md).
gevent.config.track_greenlet_tree = False
# Last, so start-up's objects are frozen with the rest (see collector.py).
connections = app.extensions[EXTENSION].connections
Collector(open_connections=lambda: len(connections), closed_connections=lambda: connections.closed).install()
