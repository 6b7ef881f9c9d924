#!/bin/sh
# Bring the schema up to date, then serve. exec: gunicorn becomes PID 1 and gets the signals.
# One gevent worker per instance (long-polling needs it); scale with more instances + REDIS_URL.
set -e
python -m chat_service.migrate
# Any number of header fields: the gateway bounds the header block (gunicorn's 100 gave an HTML 431).
exec gunicorn -k gevent -w 1 --worker-connections 12000 --no-control-socket --limit-request-fields 32768 \
    -b "0.0.0.0:${PORT:-8100}" chat_service.wsgi:app
