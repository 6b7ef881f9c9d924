#!/bin/sh
# Swarm entrypoint wrapper: each Docker secret mounted under /run/secrets/<NAME> becomes the
# environment variable NAME, then the image's own command runs. The services read their
# settings from the environment only, and secrets never appear in `docker service inspect`.
set -eu
for secret in /run/secrets/*; do
    [ -f "$secret" ] || continue
    name="$(basename "$secret")"
    value="$(cat "$secret")"
    export "$name=$value"
done
exec "$@"
