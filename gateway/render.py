"""Render the gateway's nginx configuration from `nginx.conf.template`.

Two targets share one template:

- local: the launcher (`stack`) runs nginx unprivileged in the foreground from a
  prefix directory (`nginx -p DIR -c DIR/nginx.conf -e LOG`), proxying to
  services on loopback ports, one upstream server per chat instance.
- compose: the docker-compose network, upstreams by service name. Chat replicas
  come and go with `--scale`, so nginx (>= 1.27.3) re-resolves the name through
  Docker's DNS (`resolve` + `zone`). The result is committed as
  `gateway/nginx.compose.conf`; a test checks it is up to date.

Standard library only, so it runs before any virtualenv exists:
    python -m gateway.render compose -o gateway/nginx.compose.conf
    python -m gateway.render local --prefix .run/nginx --port 8080 --auth-port 8001 \
        --frontend-port 8002 --chat-port 8101 --chat-port 8102 -o .run/nginx/nginx.conf
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence

GATEWAY_DIR = Path(__file__).resolve().parent
TEMPLATE = GATEWAY_DIR / "nginx.conf.template"
COMPOSE_CONF = GATEWAY_DIR / "nginx.compose.conf"

# The ports the services listen on inside their containers (see each <service>/Dockerfile).
COMPOSE_PORTS = {"auth_service": 8001, "chat_service": 8100, "web_frontend": 8002}
COMPOSE_LISTEN_PORT = 8080
# Docker's embedded DNS server. nginx keeps an answer for `valid`: a replica removed by
# `--scale` stays in the upstream that long, and requests hashed to it wait for a connect
# error before going elsewhere, so the answer is kept briefly (new replicas join as fast).
DOCKER_RESOLVER = "127.0.0.11"
DOCKER_RESOLVER_VALID = "1s"

# Where chat_service keeps attachments in docker-compose (a named volume, read-only in the gateway).
COMPOSE_ATTACHMENT_DIR = "/var/lib/chat/attachments"
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

# Local chat upstreams. nginx's default (max_fails=1 fail_timeout=10s) kept an instance that
# refused one connection while it was (re)starting out of turn for 10 s after it was healthy:
# with two instances restarted or started together, every instance was out and the gateway
# answered 503 "no live upstreams" for up to 6.2 s after `make up` returned. One refused
# connection still takes a dead instance out at once (the request goes to another through
# @retry), but it is tried again after 1 s: a restarted instance takes traffic within about a
# second of answering, and a dead one costs one refused connect (well under 1 ms on loopback)
# per second. Measured with a chat instance killed (SIGKILL) under traffic and restarted by the
# supervisor: routed to again 0.03-0.04 s after it answered its health check, against 2.5-6.9 s
# with the default; no request failed either way (the other instance took them).
LOCAL_CHAT_MAX_FAILS = 1
LOCAL_CHAT_FAIL_TIMEOUT = "1s"
# How long `nginx -s quit` (SIGQUIT) lets open connections finish before closing them. Without
# a bound, open WebSockets held a graceful stop until the launcher's stop timeout (~18 s for
# `make down`); clients reconnect on their own, so a short bound loses nothing.
LOCAL_SHUTDOWN_TIMEOUT = "2s"
# Room for the multipart framing around the file (chat_service's MULTIPART_OVERHEAD).
MULTIPART_OVERHEAD = 64 * 1024

SECURITY_HEADERS = (
    "add_header X-Content-Type-Options $default_x_content_type_options always;",
    "add_header X-Frame-Options $default_x_frame_options always;",
    "add_header Referrer-Policy $default_referrer_policy always;",
)

PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{\{(?P<name>\w+)\}\}$|\{\{(?P<inline>\w+)\}\}", re.MULTILINE)


def _fill(template: str, values: dict[str, str | Sequence[str]]) -> str:
    """Replace `{{name}}` placeholders.

    A placeholder alone on its line takes a list of lines, each indented like
    the placeholder; an inline one takes a string. Unknown or unused names are
    errors, so the template and the renderer cannot drift apart silently.
    """
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("inline")
        if name not in values:
            raise KeyError(f"template placeholder {{{{{name}}}}} has no value")
        used.add(name)
        value = values[name]
        if match.group("name"):
            lines = [value] if isinstance(value, str) else list(value)
            return "\n".join(match.group("indent") + line if line else "" for line in lines)
        if not isinstance(value, str):
            raise TypeError(f"inline placeholder {{{{{name}}}}} needs a string")
        return value

    rendered = PLACEHOLDER.sub(substitute, template)
    unused = set(values) - used
    if unused:
        raise KeyError(f"values not used by the template: {sorted(unused)}")
    return rendered


def render(values: dict[str, str | Sequence[str]]) -> str:
    return _fill(TEMPLATE.read_text(encoding="utf-8"), values)


def attachment_body_limit(max_attachment_bytes: int) -> str:
    """client_max_body_size of the upload route for files up to `max_attachment_bytes`."""
    return f"{-(-(max_attachment_bytes + MULTIPART_OVERHEAD) // 1024)}k"


def render_local(
    *,
    prefix: Path,
    port: int,
    auth_port: int,
    frontend_port: int,
    chat_ports: Sequence[int],
    log_dir: Path | None = None,
    user: str | None = None,
    host: str = "127.0.0.1",
    mime_types: str = "/etc/nginx/mime.types",
    attachment_dir: Path | None = None,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> str:
    """The config for an unprivileged nginx run from `prefix` in the foreground.

    `user` is only meaningful when the launcher runs as root: without it nginx
    would run its workers as `nobody`, which cannot reach a private run directory.
    """
    if not chat_ports:
        raise ValueError("at least one chat port is needed")
    prefix = Path(prefix).resolve()
    log_dir = Path(log_dir).resolve() if log_dir else prefix
    attachment_dir = Path(attachment_dir).resolve() if attachment_dir else prefix.parent / "attachments"
    process = [f"user {user};"] if user else []
    process += [
        "daemon off;",
        f"worker_shutdown_timeout {LOCAL_SHUTDOWN_TIMEOUT};",
        f"pid {prefix / 'nginx.pid'};",
        f"error_log {log_dir / 'nginx-error.log'} warn;",
    ]
    logs = [f"access_log {log_dir / 'nginx-access.log'} gateway;"] + [
        f"{kind}_temp_path {prefix / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    return render(
        {
            "process": process,
            "mime_types": mime_types,
            "logs": logs,
            "resolver": [],
            "auth_servers": [f"server {host}:{auth_port};"],
            "chat_servers": [
                f"server {host}:{chat_port} max_fails={LOCAL_CHAT_MAX_FAILS} fail_timeout={LOCAL_CHAT_FAIL_TIMEOUT};"
                for chat_port in chat_ports
            ],
            "frontend_servers": [f"server {host}:{frontend_port};"],
            "listen": [f"listen {host}:{port};"],
            "security_headers": list(SECURITY_HEADERS),
            "attachment_dir": str(attachment_dir),
            "attachment_body_limit": attachment_body_limit(max_attachment_bytes),
        }
    )


def render_compose() -> str:
    """The config baked into the gateway image (nginx >= 1.27.3 for `resolve`)."""

    def servers(service: str) -> list[str]:
        return [f"server {service}:{COMPOSE_PORTS[service]} resolve;"]

    return render(
        {
            "process": [
                "user nginx;",
                "pid /run/nginx.pid;",
                "error_log /dev/stderr warn;",
            ],
            "mime_types": "/etc/nginx/mime.types",
            "logs": ["access_log /dev/stdout gateway;"],
            "resolver": [f"resolver {DOCKER_RESOLVER} valid={DOCKER_RESOLVER_VALID} ipv6=off;", "resolver_timeout 5s;"],
            "auth_servers": servers("auth_service"),
            "chat_servers": servers("chat_service"),
            "frontend_servers": servers("web_frontend"),
            "listen": [f"listen {COMPOSE_LISTEN_PORT};"],
            "security_headers": list(SECURITY_HEADERS),
            "attachment_dir": COMPOSE_ATTACHMENT_DIR,
            "attachment_body_limit": attachment_body_limit(DEFAULT_MAX_ATTACHMENT_BYTES),
        }
    )


def _write(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.render", description=__doc__.split("\n\n")[0])
    targets = parser.add_subparsers(dest="target", required=True)

    compose = targets.add_parser("compose", help="config for the docker-compose network")
    compose.add_argument("-o", "--output", help=f"file to write (default stdout; the committed one is {COMPOSE_CONF})")
    compose.add_argument("--check", action="store_true", help="exit 1 if the committed config is out of date")

    local = targets.add_parser("local", help="config for the local launcher")
    local.add_argument("--prefix", required=True, type=Path, help="nginx prefix dir (pid, temp paths)")
    local.add_argument("--log-dir", type=Path, help="where nginx-access.log / nginx-error.log go (default: prefix)")
    local.add_argument("--port", type=int, default=8080)
    local.add_argument("--auth-port", type=int, default=8001)
    local.add_argument("--frontend-port", type=int, default=8002)
    local.add_argument("--chat-port", type=int, action="append", help="one per chat instance (default 8101)")
    local.add_argument("--user", help="worker user, only when nginx starts as root")
    local.add_argument("--attachment-dir", type=Path, help="chat_service's ATTACHMENT_DIR (default: PREFIX/../attachments)")
    local.add_argument("--max-attachment-bytes", type=int, default=DEFAULT_MAX_ATTACHMENT_BYTES,
                       help="chat_service's MAX_ATTACHMENT_BYTES")
    local.add_argument("-o", "--output", help="file to write (default stdout)")

    args = parser.parse_args(argv)
    if args.target == "compose":
        text = render_compose()
        if args.check:
            if COMPOSE_CONF.read_text(encoding="utf-8") != text:
                print(f"{COMPOSE_CONF} is out of date: run `python -m gateway.render compose -o {COMPOSE_CONF}`",
                      file=sys.stderr)
                return 1
            return 0
        _write(text, args.output)
    else:
        _write(
            render_local(
                prefix=args.prefix,
                port=args.port,
                auth_port=args.auth_port,
                frontend_port=args.frontend_port,
                chat_ports=args.chat_port or [8101],
                log_dir=args.log_dir,
                user=args.user,
                attachment_dir=args.attachment_dir,
                max_attachment_bytes=args.max_attachment_bytes,
            ),
            args.output,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
