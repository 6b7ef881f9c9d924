"""The WSGI entry point: `gunicorn auth_service.wsgi:app`."""

from . import create_app

app = create_app()
