#!/bin/sh
# Bring the schema up to date, then serve. exec: gunicorn becomes PID 1 and gets the signals.
set -e
python -m auth_service.migrate
# Any number of header fields: the gateway bounds the header block (gunicorn's 100 gave an HTML 431).
exec gunicorn -b "0.0.0.0:${PORT:-8001}" -w 2 -k gthread --threads 4 --limit-request-fields 32768 \
    auth_service.wsgi:app
