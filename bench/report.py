"""The one table `python -m bench` prints (Markdown, so docs/benchmarks.md can take it as is)."""

from __future__ import annotations

from typing import Any

from .search_bench import table_row as search_row

MESSAGE_PHASES = ("saturate", "light", "paced", "paced_idle")


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours: float | None, ceiling: float | None) -> str:
    if not ours or not ceiling:
        return "—"
    return f"{100.0 * ours / ceiling:.0f}%"


def _met(condition: bool | None) -> str:
    return "—" if condition is None else ("yes" if condition else "**no**")


def _latency(phase: dict | None) -> str:
    if not phase or phase.get("p50_ms") is None:
        return "—"
    return (f"{phase['p50_ms']:.1f} / {phase['p95_ms']:.1f} / {phase['p99_ms']:.1f} "
            f"({phase['delivered_per_s']:.0f} msg/s achieved)")


def _errors(results: dict, prefix: str) -> tuple[int, int, int, int]:
    """(lost, duplicated, out of order, other failures) over every message phase of a target."""
    lost = dup = order = other = 0
    for name in MESSAGE_PHASES:
        phase = results.get(f"{prefix}.{name}")
        if not phase:
            continue
        lost += phase["lost"] + phase.get("history_lost", 0)
        dup += phase["duplicated"] + phase.get("history_duplicated", 0)
        order += phase["out_of_order"] + phase.get("history_out_of_order", 0)
        other += phase["ack_timeouts"] + sum(phase["ack_errors"].values()) + phase["connect_failures"]
    return lost, dup, order, other


def _split(split: dict | None) -> str:
    if not split:
        return "—"
    return ", ".join(f"{name} {pct:.0f}" for name, pct in list(split.items())[:6])


def _cpu_per_message(phase: dict) -> float | None:
    if not phase.get("delivered_per_s") or phase.get("server_cpu_pct") is None:
        return None
    return 10.0 * phase["server_cpu_pct"] / phase["delivered_per_s"]


def build_table(results: dict) -> str:
    plan = results["plan"]
    get = results.get
    rows: list[tuple[str, str, str, str, str, str]] = []

    chat1, echo1 = get("chat1.saturate") or {}, get("echo1.saturate") or {}
    ours, ceiling = chat1.get("delivered_per_s"), echo1.get("delivered_per_s")
    rows.append((
        "Throughput, 1 chat instance: msg/s persisted and delivered to every member "
        f"({plan['saturate_conversations']} conversations, closed loop)",
        _num(ours), _num(ceiling), _ratio(ours, ceiling), "≥ 50% of ceiling",
        _met(ours / ceiling >= 0.5) if ours and ceiling else "—",
    ))
    chat3, echo3 = get("chat3.saturate") or {}, get("echo3.saturate") or {}
    rows.append((
        "Throughput, 3 chat instances (same load, through the gateway)",
        _num(chat3.get("delivered_per_s")), _num(echo3.get("delivered_per_s")),
        _ratio(chat3.get("delivered_per_s"), echo3.get("delivered_per_s")), "—", "—",
    ))
    for key, rate, target in (("light", plan["light_rate"], "—"), ("paced", plan["paced_rate"], "p99 ≤ 50 ms"),
                              ("paced_idle", plan["paced_rate"], "p99 ≤ 50 ms")):
        ours_phase, echo_phase = get(f"chat1.{key}"), get(f"echo1.{key}")
        idle = (ours_phase or {}).get("idle_sockets")
        suffix = f", with {idle:,} idle WebSockets open" if key == "paced_idle" and idle is not None else ""
        p99 = (ours_phase or {}).get("p99_ms")
        rows.append((
            f"Latency p50 / p95 / p99 ms, `send` → peer's `message`, {rate:.0f} msg/s over "
            f"{plan['paced_conversations']} conversations{suffix}",
            _latency(ours_phase), _latency(echo_phase), "—", target,
            _met(p99 <= 50) if p99 is not None and target != "—" else "—",
        ))
    cap, echo_cap = get("chat1.capacity") or {}, get("echo1.capacity") or {}
    connected = cap.get("connected")
    rows.append((
        f"Idle WebSockets one chat instance holds (opened {plan['idle_sockets']:,}"
        + ("; quick mode — the full run opens 5,000)" if plan["idle_sockets"] < 5000 else ")"),
        _num(connected), _num(echo_cap.get("connected")), "—", "≥ 5,000",
        "n/a (quick)" if plan["idle_sockets"] < 5000 else (_met(connected >= 5000) if connected is not None else "—"),
    ))
    kb = cap.get("kb_per_connection")
    rows.append((
        "Memory per idle WebSocket, KB (gunicorn worker RSS delta ÷ connections)",
        _num(kb, 1), _num(echo_cap.get("kb_per_connection"), 1),
        _ratio(kb, echo_cap.get("kb_per_connection")), "≤ 40 KB", _met(kb <= 40) if kb is not None else "—",
    ))
    auth = get("auth") or {}
    kdf = auth.get("kdf") or {}
    rows.append((
        f"Logins/s through the gateway, {auth.get('login_concurrency', '?')} clients "
        f"(scrypt n=2^{(kdf.get('n') or 2).bit_length() - 1} r={kdf.get('r')} p={kdf.get('p')}: "
        f"{_num(auth.get('kdf_ms'), 0)} ms per hash; median login {_num(auth.get('login_median_ms'), 0)} ms)",
        _num(auth.get("logins_per_s"), 1), "—", "—", "—", "—",
    ))
    rows.append((
        f"Token verifications/s, shared.jwt.decode on one core (median {_num(auth.get('median_us'), 1)} µs)",
        _num(auth.get("verifications_per_s")), "—", "—", "—", "—",
    ))
    ours_err, echo_err = _errors(results, "chat1"), _errors(results, "echo1")
    ours3 = _errors(results, "chat3")
    history = sum((get(f"chat{n}.{p}") or {}).get("history_checked", 0) for n in (1, 3) for p in MESSAGE_PHASES)
    total = tuple(a + b for a, b in zip(ours_err, ours3))
    rows.append((
        "Lost / duplicated / out-of-order messages, every phase, per receiving socket and against history "
        f"({history:,} stored messages checked)",
        " / ".join(str(n) for n in total[:3]), " / ".join(str(n) for n in echo_err[:3]), "—", "0 / 0 / 0",
        _met(not any(total[:3])),
    ))
    rows.append((
        "Failed sends (ack errors or timeouts) and failed connects, every phase",
        str(total[3]), str(echo_err[3]), "—", "0", _met(total[3] == 0),
    ))
    rows.append((
        "Chat worker CPU at saturation, % of one core (1 instance; below 100% = starved by other processes or waiting)",
        _num(chat1.get("server_cpu_pct")), _num(echo1.get("server_cpu_pct")), "—", "—", "—",
    ))
    ours_cost, echo_cost = _cpu_per_message(chat1), _cpu_per_message(echo1)
    rows.append((
        "Whole machine CPU busy during 1-instance saturation, % of all cores "
        "(load generator, chat, nginx, PostgreSQL, Redis and anything else running)",
        _num(chat1.get("machine_busy_pct")), _num(echo1.get("machine_busy_pct")), "—", "—", "—",
    ))
    rows.append((
        "CPU by process at 1-instance saturation, % of one core",
        _split(chat1.get("cpu_split_pct")), _split(echo1.get("cpu_split_pct")), "—", "—", "—",
    ))
    rows.append((
        "Chat worker CPU per delivered message, ms (1 instance at saturation; independent of other load)",
        _num(ours_cost, 2), _num(echo_cost, 2), _ratio(ours_cost, echo_cost), "—", "—",
    ))
    rows.append(search_row(get("search")))
    load_cpu = [
        (phase["loadgen_cpu_pct"], phase["loadgen_processes"])
        for key, phase in results.items()
        if isinstance(phase, dict) and "loadgen_cpu_pct" in phase
    ]
    peak = max(load_cpu, default=(None, 0))
    rows.append((
        f"Load generator CPU, busiest phase, % of one core summed over its {peak[1]} processes "
        f"(machine: {results['machine']['nproc']} cores)",
        _num(peak[0]), "—", "—", "—", "—",
    ))

    header = ("Figure", "chat_service", "echo ceiling", "ours ÷ ceiling", "target", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
