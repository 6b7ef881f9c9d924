"""The tables `python -m bench` prints (Markdown, so docs/benchmarks.md can take them as is) and its plot."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any, Iterator

from .search_bench import table_row as search_row

# The goals, as ratios to the echo of the same run or absolute.
THROUGHPUT_SHARE = 0.75
CPU_RATIO = 1.25
P99_RATIO = 1.5
IDLE_P99_MS = 50.0
IDLE_KB = 40.0


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours: float | None, ceiling: float | None, times: bool = False) -> str:
    if not ours or not ceiling:
        return "—"
    return f"{ours / ceiling:.2f}×" if times else f"{100.0 * ours / ceiling:.0f}%"


def _met(condition: bool | None) -> str:
    return "—" if condition is None else ("PASS" if condition else "**MISS**")


def _latency(phase: dict | None, share: bool = False) -> str:
    """p50 / p95 / p99; with `share`, how much CPU the worker got and what other work took meanwhile."""
    if not phase or phase.get("p50_ms") is None:
        return "—"
    got = ""
    if share:
        other = (phase.get("cpu_split_pct") or {}).get("other")
        got = f"; worker {phase['server_cpu_pct']:.0f}% of a core" + (f", other processes {other:.0f}%" if other else "")
    return (f"{phase['p50_ms']:.1f} / {phase['p95_ms']:.1f} / {phase['p99_ms']:.1f} "
            f"({phase['delivered_per_s']:.0f} msg/s achieved{got})")


def message_phases(results: dict, prefix: str) -> Iterator[dict]:
    """Every message phase of a target, including the runs with idle sockets open."""
    for key, value in results.items():
        if not key.startswith(prefix + ".") or not isinstance(value, dict):
            continue
        if "lost" in value:
            yield value
        yield from value.get("paced", [])
        yield from value.get("rounds", [])


def _errors(results: dict, prefix: str) -> tuple[int, int, int, int]:
    """(lost, duplicated, out of order, other failures) over every message phase of a target."""
    lost = dup = order = other = 0
    for phase in message_phases(results, prefix):
        lost += phase["lost"] + phase.get("history_lost", 0)
        dup += phase["duplicated"] + phase.get("history_duplicated", 0)
        order += phase["out_of_order"] + phase.get("history_out_of_order", 0)
        other += phase["ack_timeouts"] + sum(phase["ack_errors"].values()) + phase["connect_failures"]
    return lost, dup, order, other


def _split(split: dict | None) -> str:
    if not split:
        return "—"
    return ", ".join(f"{name} {pct:.0f}" for name, pct in list(split.items())[:6])


def cpu_per_message(phase: dict | None) -> float | None:
    """Worker CPU ms per message delivered to every member."""
    if not phase or not phase.get("delivered_per_s") or phase.get("server_cpu_pct") is None:
        return None
    return 10.0 * phase["server_cpu_pct"] / phase["delivered_per_s"]


def _median_of(phases: list[dict], key: str) -> float | None:
    values = [phase[key] for phase in phases if phase.get(key) is not None]
    return median(values) if values else None


def _within(ours: float | None, ceiling: float | None, ratio: float) -> bool | None:
    return None if ours is None or not ceiling else ours <= ratio * ceiling


def build_table(results: dict) -> str:
    plan = results["plan"]
    get = results.get
    rows: list[tuple[str, str, str, str, str, str]] = []
    conversations = plan["saturate_conversations"]

    chat1, echo1 = get("chat1.saturate") or {}, get("echo1.saturate") or {}
    chat_rounds = (get("chat1.alternating") or {}).get("rounds", [])
    echo_rounds = (get("echo1.alternating") or {}).get("rounds", [])
    pairs = list(zip(chat_rounds, echo_rounds))
    each = f"median of {len(pairs)} round(s), echo and chat saturated in turn seconds apart; each round:"
    shares = [c["delivered_per_s"] / e["delivered_per_s"] for c, e in pairs
              if c.get("delivered_per_s") and e.get("delivered_per_s")]
    share = median(shares) if shares else None
    rows.append((
        f"Throughput, 1 chat instance: msg/s persisted and delivered to every member ({conversations} "
        f"conversations, closed loop, one message in flight each; {each} "
        + " / ".join(f"{value:.0%}" for value in shares) + ")",
        _num(_median_of(chat_rounds, "delivered_per_s")), _num(_median_of(echo_rounds, "delivered_per_s")),
        f"{share:.0%}" if share is not None else "—", f"≥ {THROUGHPUT_SHARE:.0%} of echo",
        _met(share >= THROUGHPUT_SHARE) if share is not None else "—",
    ))
    costs = [(cpu_per_message(c), cpu_per_message(e)) for c, e in pairs]
    cost_ratios = [ours / echo for ours, echo in costs if ours and echo]
    cost_ratio = median(cost_ratios) if cost_ratios else None
    rows.append((
        f"Worker CPU per delivered message, ms ({conversations} conversations at saturation; independent of "
        f"how much CPU the worker got; {each} " + " / ".join(f"{value:.2f}×" for value in cost_ratios) + ")",
        _num(median([c for c, _ in costs if c]), 2) if cost_ratios else "—",
        _num(median([e for _, e in costs if e]), 2) if cost_ratios else "—",
        f"{cost_ratio:.2f}×" if cost_ratio is not None else "—", f"≤ {CPU_RATIO}× echo",
        _met(cost_ratio <= CPU_RATIO) if cost_ratio is not None else "—",
    ))
    ours, ceiling = chat1.get("delivered_per_s"), echo1.get("delivered_per_s")
    ours_cost, echo_cost = cpu_per_message(chat1), cpu_per_message(echo1)
    rows.append((
        "The same two figures from each target's own saturation phase, minutes apart (msg/s; worker CPU "
        "per message, ms): they move with the machine's speed between the two",
        f"{_num(ours)}; {_num(ours_cost, 2)}", f"{_num(ceiling)}; {_num(echo_cost, 2)}",
        f"{_ratio(ours, ceiling)}; {_ratio(ours_cost, echo_cost, times=True)}", "—", "—",
    ))
    rows.append((
        f"Latency p50 / p95 / p99 ms, `send` → peer's `message`, {conversations} conversations at saturation",
        _latency(chat1), _latency(echo1), _ratio(chat1.get("p99_ms"), echo1.get("p99_ms"), times=True) + " (p99)",
        f"p99 ≤ {P99_RATIO}× echo", _met(_within(chat1.get("p99_ms"), echo1.get("p99_ms"), P99_RATIO)),
    ))
    for key, rate in (("light", plan["light_rate"]), ("paced", plan["paced_rate"])):
        rows.append((
            f"Latency p50 / p95 / p99 ms, `send` → peer's `message`, {rate:.0f} msg/s over "
            f"{plan['paced_conversations']} conversations",
            _latency(get(f"chat1.{key}")), _latency(get(f"echo1.{key}")), "—", "—", "—",
        ))
    most = plan["idle_steps"][-1]
    idle, echo_idle = get(f"chat1.idle{most}") or {}, get(f"echo1.idle{most}") or {}
    echo_runs = echo_idle.get("paced", [])
    for number, run in enumerate(idle.get("paced", []) or [None], start=1):
        echo_run = echo_runs[number - 1] if number <= len(echo_runs) else None
        p99 = (run or {}).get("p99_ms")
        rows.append((
            f"Latency p50 / p95 / p99 ms, {plan['paced_rate']:.0f} msg/s over {plan['paced_conversations']} "
            f"conversations with {most:,} idle WebSockets open on the instance, run {number} of {plan['idle_repeats']}",
            _latency(run, share=True), _latency(echo_run, share=True), "—", f"p99 ≤ {IDLE_P99_MS:.0f} ms",
            _met(p99 <= IDLE_P99_MS) if p99 is not None else "—",
        ))
    def held(figures: dict) -> str:
        return f"{_num(figures.get('connected'))} ({_num(figures.get('still_connected'))} still open at the end)"

    rows.append((
        f"Idle WebSockets one chat instance holds (opened {most:,})",
        held(idle), held(echo_idle), "—", f"{most:,}",
        _met(idle.get("connected", 0) >= most and idle.get("still_connected", 0) >= most) if idle else "—",
    ))
    kb = idle.get("kb_per_connection")
    rows.append((
        f"Memory per idle WebSocket at {most:,}, KB (gunicorn worker RSS delta ÷ connections)",
        _num(kb, 1), _num(echo_idle.get("kb_per_connection"), 1),
        _ratio(kb, echo_idle.get("kb_per_connection")), f"≤ {IDLE_KB:.0f} KB",
        _met(kb <= IDLE_KB) if kb is not None else "—",
    ))
    ours_err, echo_err = _errors(results, "chat1"), _errors(results, "echo1")
    history = sum(phase.get("history_checked", 0) for phase in message_phases(results, "chat1"))
    rows.append((
        "Lost / duplicated / out-of-order messages, every phase, per receiving socket and against history "
        f"({history:,} stored messages checked)",
        " / ".join(str(n) for n in ours_err[:3]), " / ".join(str(n) for n in echo_err[:3]), "—", "0 / 0 / 0",
        _met(not any(ours_err[:3])),
    ))
    rows.append((
        "Failed sends (ack errors or timeouts) and failed connects, every phase",
        str(ours_err[3]), str(echo_err[3]), "—", "0", _met(ours_err[3] == 0),
    ))
    rows.append((
        "Chat worker CPU at saturation, % of one core (below 100% = starved by other processes or waiting)",
        _num(chat1.get("server_cpu_pct")), _num(echo1.get("server_cpu_pct")), "—", "—", "—",
    ))
    rows.append((
        "Whole machine CPU busy during saturation, % of all cores "
        "(load generator, chat, nginx, PostgreSQL, Redis and anything else running)",
        _num(chat1.get("machine_busy_pct")), _num(echo1.get("machine_busy_pct")), "—", "—", "—",
    ))
    rows.append((
        "CPU by process at saturation, % of one core",
        _split(chat1.get("cpu_split_pct")), _split(echo1.get("cpu_split_pct")), "—", "—", "—",
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
    rows.append(search_row(get("search")))
    load_cpu = [(phase["loadgen_cpu_pct"], phase["loadgen_processes"])
                for prefix in ("chat1", "echo1") for phase in message_phases(results, prefix)]
    peak = max(load_cpu, default=(None, 0))
    rows.append((
        f"Load generator CPU, busiest phase, % of one core summed over its {peak[1]} processes "
        f"(machine: {results['machine']['nproc']} cores)",
        _num(peak[0]), "—", "—", "—", "—",
    ))
    return _markdown(("Figure", "chat_service", "echo ceiling", "ours ÷ echo", "target", "met"), rows)


def _markdown(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def growth(results: dict) -> list[dict]:
    """One point per scenario of the growth phases: (axis, x, figures for chat and echo)."""
    plan = results["plan"]
    points = []
    for axis, steps, key in (("members", plan["member_sizes"], "members{}"),
                             ("connections", plan["idle_steps"], "idle{}")):
        for step in steps:
            point: dict[str, Any] = {"axis": axis, "x": step}
            for target in ("chat1", "echo1"):
                phase = results.get(f"{target}." + key.format(step)) or {}
                runs = phase.get("paced", [phase] if phase else [])
                costs = sorted(c for c in (cpu_per_message(r) for r in runs) if c is not None)
                p99s = [r["p99_ms"] for r in runs if r.get("p99_ms") is not None]
                point[target] = {
                    "cpu_ms": costs[len(costs) // 2] if costs else None,  # the median run
                    "p99_ms": max(p99s) if p99s else None,  # the worst run
                    "rate": runs[0].get("delivered_per_s") if runs else None,
                    "rss_mb": phase.get("worker_rss_mb"),
                    "kb_per_connection": phase.get("kb_per_connection"),
                }
            points.append(point)
    return points


def growth_table(results: dict) -> str:
    plan = results["plan"]
    rows = []
    for point in growth(results):
        chat, echo = point["chat1"], point["echo1"]
        if point["axis"] == "members":
            scenario = (f"{point['x']} members per conversation ({plan['member_conversations']} conversations, "
                        f"{plan['member_rate']:.0f} msg/s)")
        else:
            scenario = (f"{point['x']:,} idle WebSockets + {plan['paced_rate']:.0f} msg/s over "
                        f"{plan['paced_conversations']} conversations")
        rows.append((
            scenario, _num(chat["rate"]),
            f"{_num(chat['cpu_ms'], 2)} / {_num(echo['cpu_ms'], 2)}",
            f"{_num(chat['p99_ms'], 1)} / {_num(echo['p99_ms'], 1)}",
            f"{_num(chat['rss_mb'])} / {_num(echo['rss_mb'])}",
            f"{_num(chat['kb_per_connection'], 1)} / {_num(echo['kb_per_connection'], 1)}"
            if point["axis"] == "connections" else "—",
        ))
    return _markdown(("Growth (chat / echo)", "msg/s achieved (chat)", "worker CPU per message, ms",
                      "p99 ms (worst run)", "worker RSS, MB", "KB per idle WebSocket"), rows)


def plot_growth(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    points = growth(results)
    figure, axes = pyplot.subplots(2, 3, figsize=(15, 8))
    series = (("cpu_ms", "worker CPU per message, ms"), ("p99_ms", "p99 send → delivery, ms (worst run)"),
              ("rss_mb", "worker RSS, MB"))
    for row, (axis_name, label) in enumerate((("members", "members per conversation"),
                                              ("connections", "idle WebSockets on the instance"))):
        on_axis = [p for p in points if p["axis"] == axis_name]
        xs = [p["x"] for p in on_axis]
        for axis, (key, title) in zip(axes[row], series):
            for target, name in (("chat1", "chat_service"), ("echo1", "echo ceiling")):
                pairs = [(p["x"], p[target][key]) for p in on_axis if p[target][key] is not None]
                if pairs:
                    axis.plot(*zip(*pairs), marker="o", label=name)
            axis.set_title(title, fontsize=10)
            axis.set_xlabel(label)
            axis.set_xscale("log")
            axis.set_xticks(xs, [f"{x:,}" for x in xs])
            axis.set_ylim(bottom=0)
            axis.legend()
    figure.suptitle(f"Cost of growth, one chat instance ({results['plan']['name']} run, load average "
                    f"{results['machine']['load_average']} at the start)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
