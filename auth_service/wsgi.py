"""The WSGI entry point: `gunicorn auth_service.wsgi:app`."""

from . import create_app
from .deletion_announcer import start_announcing

app = create_app()
start_announcing(app)
