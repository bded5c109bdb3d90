"""The bench's table: rows from the load tool's JSON, the ratios, the
issue's targets checked against the numbers, as text and as Markdown."""
import statistics

COLUMNS = [
    ("workload", "workload"), ("target", "target"), ("streams/s", "rps"),
    ("p50 ms", "p50"), ("p99 ms", "p99"), ("p99 TTFT ms", "ttft_p99"),
    ("errors n/s/t", "errors"), ("KiB/stream", "kib"),
    ("CPU ms/stream", "cpu_ms"), ("x nginx", "x_nginx"), ("x peer", "x_peer"),
]


def row_of(wl, target, res, rss_idle, rss_peak, cpu):
    """One table row (a dict) from one load run."""
    row = {"workload": wl["name"], "target": target.name,
           "label": target.label, "conns": wl["conns"],
           "tokens": wl["tokens"], "delay_ms": wl["delay_ms"],
           "stream": wl["stream"], "path": target.path(wl["stream"]),
           "hold": wl.get("hold", False), "rounds": wl.get("rounds", 1)}
    if "error" in res:
        row["error"] = res["error"]
        return row
    done = res["rps"] * res["duration_s"]      # streams, as rps counts them
    row.update(
        rps=res["rps"], p50=res["latency_ms"]["p50"],
        p99=res["latency_ms"]["p99"], ttft_p50=res["ttft_ms"]["p50"],
        ttft_p99=res["ttft_ms"]["p99"], non2xx=res["non2xx"],
        sock_errors=res["sock_errors"], timeouts=res["timeouts"],
        errors=res["errors"], no_marker=res["no_marker"],
        rss_idle_kib=rss_idle, rss_peak_kib=rss_peak,
        kib=round((rss_peak - rss_idle) / wl["conns"], 2),
        cpu_s=round(cpu, 2),
        cpu_ms=round(1000 * cpu / done, 3) if done else None,
        load=res)
    return row


MEDIANS = ("rps", "p50", "p99", "ttft_p50", "ttft_p99", "cpu_ms")
SUMS = ("non2xx", "sock_errors", "timeouts", "errors", "no_marker")


def merge_rounds(rows):
    """One row per workload and target: a target run in rounds gets the
    median of each timing, the sum of the errors, the largest memory, and
    its rounds' rows under "runs" (a failed round fails the row)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["workload"], r["target"]), []).append(r)
    out = []
    for runs in groups.values():
        if len(runs) == 1:
            out.append(runs[0])
            continue
        failed = [r for r in runs if "error" in r]
        row = dict(failed[0] if failed else runs[0], runs=runs)
        if not failed:
            for k in MEDIANS:
                vals = [r[k] for r in runs if r.get(k) is not None]
                row[k] = statistics.median(vals) if vals else None
            for k in SUMS:
                row[k] = sum(r[k] for r in runs)
            row["kib"] = max(r["kib"] for r in runs)
        out.append(row)
    return out


def _ratio(r, o):
    """r's streams/s over o's: with both run in rounds, the median of each
    round's pair (run back to back), and their spread; "inf" when o
    finished no stream."""
    if not o.get("rps"):
        return ("inf" if r["rps"] else None), None
    pairs = list(zip(r.get("runs", []), o.get("runs", [])))
    if not pairs:
        return round(r["rps"] / o["rps"], 2), None
    each = [a["rps"] / b["rps"] for a, b in pairs if b["rps"]]
    return round(statistics.median(each), 2), \
        [round(min(each), 2), round(max(each), 2)]


LLMFORK = ("v1", "stream", "v1-b", "stream-b", "responses")


def add_ratios(rows):
    by = {(r["workload"], r["target"]): r for r in rows}
    for r in rows:
        if r["target"] not in LLMFORK or "rps" not in r or r["hold"]:
            continue
        others = [("nginx", "x_nginx"), ("peer", "x_peer")]
        if r["target"].endswith("-b"):      # --compare: B against A
            others.append((r["target"][:-2], "x_a"))
        if r["target"] == "responses":      # the same call, translated
            others.append(("v1", "x_v1"))
        for other, key in others:
            o = by.get((r["workload"], other))
            if o and "rps" in o and not o["hold"]:
                r[key], spread = _ratio(r, o)
                if spread:
                    r[key + "_range"] = spread


def _cell(r, key):
    if "error" in r and key not in ("workload", "target"):
        return "failed" if key == "rps" else ""
    v = r.get(key)
    if key == "errors" and "errors" in r:
        return f"{r['non2xx']}/{r['sock_errors']}/{r['timeouts']}"
    if key == "target":
        return r["label"]
    if r.get("hold") and key in ("rps", "p50", "p99", "x_nginx", "x_peer",
                                 "x_a", "x_v1"):
        return "hold"
    if key == "rps" and r.get("load", {}).get("completed") == 0:
        return "0*"
    if v is None or v == -1:     # -1: the load tool had no sample
        return ""
    if r.get(key + "_range"):
        lo, hi = r[key + "_range"]
        return f"{v:.2f} ({lo:.2f}-{hi:.2f})"
    if isinstance(v, float):
        return f"{v:.0f}" if key == "rps" else f"{v:.2f}" if v < 100 else f"{v:.0f}"
    return str(v)


def _columns(rows):
    """COLUMNS, "x /v1" when /v1/responses ran, "x A" when --compare ran
    another build."""
    return COLUMNS + [(h, k) for h, k in (("x /v1", "x_v1"), ("x A", "x_a"))
                      if any(k in r for r in rows)]


def text_table(rows):
    cols = _columns(rows)
    cells = [[h for h, _ in cols]]
    cells += [[_cell(r, k) for _, k in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                       for i, (c, w) in enumerate(zip(line, widths)))
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    cols = _columns(rows)
    out = ["| " + " | ".join(h for h, _ in cols) + " |",
           "|" + "|".join("---" if i < 2 else "---:"
                          for i in range(len(cols))) + "|"]
    out += ["| " + " | ".join(_cell(r, k) for _, k in cols) + " |"
            for r in rows]
    return "\n".join(out)


def _ge(ratio, floor):
    return ratio == "inf" or (ratio is not None and ratio >= floor)


def _check(name, ok, detail):
    return {"target": name, "met": ok, "detail": detail}


def checks(rows, workloads):
    """The issue's targets, each met, missed, or not measured (None)."""
    by = {(r["workload"], r["target"]): r for r in rows if "rps" in r}
    out = []
    s = by.get(("short@1000", "stream"))
    if s:
        out.append(_check(
            "/chat/stream at 1,000 conns >= 0.9x nginx, >= 10x peer, 0 errors",
            _ge(s.get("x_nginx"), 0.9) and _ge(s.get("x_peer"), 10)
            and s["errors"] == 0,
            f"x nginx {s.get('x_nginx')}, x peer {s.get('x_peer')}, "
            f"errors {s['errors']}"))
    out += _v1_checks(by)
    for t in ("stream", "v1"):
        r = by.get(("long@10000", t))
        if r:
            out.append(_check(
                f"{r['label']}: 10,000 long streams, 0 errors, <= 16 KiB each",
                r["errors"] == 0 and r["kib"] <= 16,
                f"errors {r['errors']}, {r['kib']} KiB per held stream"))
    out += _ttft_checks(by, workloads)
    out += _responses_info(by) + _rag_info(by)
    return out


def _responses_info(by):
    """/v1/responses translated to chat completions beside the same call
    on /v1/chat/completions (no target: what translating costs)."""
    return [_check(f"/v1/responses (translated) at {w}", "info",
                   f"x /v1 {r.get('x_v1')}"
                   + (" ({:.2f}-{:.2f})".format(*r["x_v1_range"])
                      if r.get("x_v1_range") else "")
                   + f", x nginx {r.get('x_nginx')}, CPU ms/stream "
                   f"{r.get('cpu_ms')} (/v1 {by[(w, 'v1')].get('cpu_ms')})")
            for (w, t), r in by.items()
            if t == "responses" and (w, "v1") in by]


def _rag_info(by):
    """What the search step adds to /chat/stream (rag = postgres, text
    retrieval): the workers' CPU per question and the p99s, against
    /chat/stream without RAG in the same row."""
    out = []
    for (w, t), r in by.items():
        plain = by.get((w, "stream"))
        if t != "rag-pg" or not plain:
            continue
        out.append(_check(
            f"/chat/stream rag = postgres (text) at {w}", "info",
            f"CPU ms per question {r['cpu_ms']} ({plain['cpu_ms']} without "
            f"RAG), p99 TTFT added by the search "
            f"{round(r['ttft_p99'] - plain['ttft_p99'], 2)} ms, p99 latency "
            f"added {round(r['p99'] - plain['p99'], 2)} ms"))
    return out


def _proxy_sets_rate(by, workload):
    """Whether a proxy, not the mock, sets the row's rate: nginx below
    0.95x the mock direct. Where nginx runs at the mock direct's rate
    (below saturation every target runs at the mock's pace, conns over a
    stream's length) or above it (long@10000: the mock is the ceiling),
    a ratio to nginx tells no proxy from another: the mock direct itself
    read 0.99-1.00x nginx below saturation and 0.90-0.93x at long@10000."""
    mock, ngx = by.get((workload, "mock")), by.get((workload, "nginx"))
    return not (mock and ngx and mock.get("rps") and ngx.get("rps")) or \
        ngx["rps"] < 0.95 * mock["rps"]


def _direct(by, workload):
    mock, ngx = by[(workload, "mock")], by[(workload, "nginx")]
    return round(mock["rps"] / ngx["rps"], 2)


def _v1_checks(by):
    v1 = [r for (w, t), r in by.items() if t == "v1" and not r["hold"]]
    bound = [r for r in v1 if _proxy_sets_rate(by, r["workload"])]
    paced = [r for r in v1 if r not in bound]

    def ratios(rows, direct=False):
        return "; ".join(f"{r['workload']} {r.get('x_nginx')}" + (
            f" (mock direct {_direct(by, r['workload'])})" if direct else "")
            for r in rows)
    out = []
    if bound:
        out.append(_check(
            "/v1 passthrough >= 1.0x nginx where a proxy sets the rate",
            all(_ge(r.get("x_nginx"), 1.0) for r in bound), ratios(bound)))
    if paced:
        out.append(_check(
            "/v1 x nginx where the mock sets the rate (no verdict: the mock "
            "direct's own ratio beside it)", "info", ratios(paced, True)))
    return out


def _ttft_checks(by, workloads):
    """Added p99 TTFT over the mock direct, at the lightest streaming
    workload if it is below saturation (short@200; at 1,000 the box is
    saturated and TTFT is queueing, so --quick checks none)."""
    streams = [wl for wl in workloads if wl["stream"] and wl["conns"] <= 200]
    if not streams:
        return []
    wl = min(streams, key=lambda w: w["conns"])
    base = by.get((wl["name"], "mock"))
    out = []
    for t in ("stream", "v1"):
        r = by.get((wl["name"], t))
        if base and r:
            added = round(r["ttft_p99"] - base["ttft_p99"], 2)
            out.append(_check(
                f"{r['label']} at {wl['name']}: p99 TTFT added <= 2 ms",
                added <= 2.0, f"added {added} ms over direct"))
    return out


def checks_text(cs):
    mark = {True: "met", False: "MISSED", None: "n/a", "info": "info"}
    return "\n".join(f"  [{mark[c['met']]}] {c['target']}: {c['detail']}"
                     for c in cs)
