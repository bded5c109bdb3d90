"""scripts/bench/report.py: how rounds merge and how ratios pair them
(the numbers the issue's targets are read from)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "scripts", "bench"))
import report  # noqa: E402


def run(target, rps, errors=0, kib=15.0, rnd=0, p99=100.0):
    return {"workload": "short@1000", "target": target, "label": target,
            "hold": False, "rounds": 3, "round": rnd, "rps": rps,
            "p50": 50.0, "p99": p99, "ttft_p50": 1.0, "ttft_p99": 2.0,
            "cpu_ms": 0.3, "non2xx": errors, "sock_errors": 0,
            "timeouts": 0, "errors": errors, "no_marker": 0, "kib": kib,
            "load": {"completed": int(rps)}}


def test_rounds_merge_to_medians_summed_errors_and_largest_memory():
    rows = report.merge_rounds([
        run("nginx", 3000, rnd=0), run("stream", 2400, 1, 15.0, 0, 300.0),
        run("nginx", 2000, rnd=1), run("stream", 2000, 0, 16.5, 1, 100.0),
        run("nginx", 2500, rnd=2), run("stream", 2300, 2, 15.2, 2, 200.0)])
    assert [r["target"] for r in rows] == ["nginx", "stream"]
    s = rows[1]
    assert s["rps"] == 2300 and s["p99"] == 200.0
    assert s["errors"] == 3 and s["non2xx"] == 3
    assert s["kib"] == 16.5
    assert len(s["runs"]) == 3


def test_ratio_is_the_median_of_each_rounds_pair():
    rows = report.merge_rounds([
        run("nginx", 3000, rnd=0), run("stream", 2400, rnd=0),   # 0.80
        run("nginx", 2000, rnd=1), run("stream", 2000, rnd=1),   # 1.00
        run("nginx", 2500, rnd=2), run("stream", 2250, rnd=2)])  # 0.90
    report.add_ratios(rows)
    s = rows[1]
    # the medians' ratio would be 2250/2500 = 0.90 too; the range shows
    # the spread the pairs had
    assert s["x_nginx"] == 0.9 and s["x_nginx_range"] == [0.8, 1.0]
    assert "0.90 (0.80-1.00)" in report.markdown_table(rows)


def test_one_slow_spell_does_not_decide_the_ratio():
    # two rounds say 0.95; in the third a slow spell hit only v1's run. The
    # medians (2600 vs 1900) would say 0.73; the pairs' median stays 0.95
    rows = report.merge_rounds([
        run("nginx", 3000, rnd=0), run("v1", 2850, rnd=0),
        run("nginx", 2000, rnd=1), run("v1", 1900, rnd=1),
        run("nginx", 2600, rnd=2), run("v1", 1500, rnd=2)])
    report.add_ratios(rows)
    assert rows[1]["x_nginx"] == 0.95
    assert rows[1]["x_nginx_range"] == [0.58, 0.95]


def test_a_failed_round_fails_the_row():
    bad = dict(run("stream", 0, rnd=1), error="load tool exited 1")
    rows = report.merge_rounds([run("stream", 2400), bad, run("stream", 2300)])
    assert rows[0]["error"] == "load tool exited 1"
    assert "failed" in report.text_table(rows)


def test_no_ratio_against_a_row_that_only_held_streams():
    peer = dict(run("peer", 0), hold=True, rounds=1)
    rows = [dict(run("stream", 800), rounds=1), peer]
    report.add_ratios(rows)
    assert "x_peer" not in rows[0]


def test_inf_when_the_other_finished_no_stream():
    rows = [dict(run("stream", 800), rounds=1),
            dict(run("peer", 0), rounds=1)]
    report.add_ratios(rows)
    assert rows[0]["x_peer"] == "inf"


def test_compare_gives_b_against_a_pair_by_pair():
    rows = report.merge_rounds([
        run("nginx", 3000, rnd=0), run("v1", 2400, rnd=0),
        run("v1-b", 2640, rnd=0),
        run("nginx", 2000, rnd=1), run("v1", 2000, rnd=1),
        run("v1-b", 2200, rnd=1),
        run("nginx", 2500, rnd=2), run("v1", 2500, rnd=2),
        run("v1-b", 2000, rnd=2)])
    report.add_ratios(rows)
    a, b = rows[1], rows[2]
    assert "x_a" not in a
    assert b["x_a"] == 1.1 and b["x_a_range"] == [0.8, 1.1]
    assert b["x_nginx"] == 0.88
    assert "x A" in report.text_table(rows).splitlines()[0]


def test_no_x_a_column_without_compare():
    rows = [dict(run("v1", 800), rounds=1), dict(run("nginx", 800), rounds=1)]
    report.add_ratios(rows)
    assert "x A" not in report.markdown_table(rows)


def row(workload, target, rps):
    return dict(run(target, rps), workload=workload, rounds=1)


def test_v1_verdict_only_where_a_proxy_sets_the_rate():
    rows = [row("short@1000", "mock", 4000), row("short@1000", "nginx", 3000),
            row("short@1000", "v1", 3030),
            row("chat@1000", "mock", 4850), row("chat@1000", "nginx", 4890),
            row("chat@1000", "v1", 4840)]
    report.add_ratios(rows)
    cs = {c["target"].split(" (")[0]: c for c in report.checks(rows, [])}
    bound = cs["/v1 passthrough >= 1.0x nginx where a proxy sets the rate"]
    assert bound["met"] is True and bound["detail"] == "short@1000 1.01"
    paced = cs["/v1 x nginx where the mock sets the rate"]
    assert paced["met"] == "info"
    assert paced["detail"] == "chat@1000 0.99 (mock direct 0.99)"
    # at the proxy-bound row a shortfall is a miss
    rows[2]["rps"] = 2900
    report.add_ratios(rows)
    cs = {c["target"].split(" (")[0]: c for c in report.checks(rows, [])}
    assert cs["/v1 passthrough >= 1.0x nginx where a proxy sets the rate"]["met"] is False


def test_without_the_mock_direct_every_v1_row_is_judged():
    rows = [row("chat@1000", "nginx", 4890), row("chat@1000", "v1", 4840)]
    report.add_ratios(rows)
    (c,) = report.checks(rows, [])
    assert c["met"] is False and c["detail"] == "chat@1000 0.99"


def test_responses_gets_its_ratio_to_v1_and_rag_what_the_search_adds():
    rows = [run("v1", 3000, rnd=0), run("responses", 2400, rnd=0),
            run("v1", 2000, rnd=1), run("responses", 1800, rnd=1)]
    rag = [dict(run("stream", 980), workload="rag@200", ttft_p99=3.5,
                p99=205.0, cpu_ms=0.2),
           dict(run("rag-pg", 950), workload="rag@200", ttft_p99=9.0,
                p99=215.5, cpu_ms=0.32)]
    rows = report.merge_rounds(rows) + rag
    report.add_ratios(rows)
    r = [x for x in rows if x["target"] == "responses"][0]
    assert r["x_v1"] == 0.85 and r["x_v1_range"] == [0.8, 0.9]
    assert "| x /v1 |" in report.markdown_table(rows)
    info = {c["target"]: c["detail"] for c in report.checks(rows, [])
            if c["met"] == "info"}
    assert "x /v1 0.85 (0.80-0.90)" in info["/v1/responses (translated) at short@1000"]
    detail = info["/chat/stream rag = postgres (text) at rag@200"]
    assert "CPU ms per question 0.32 (0.2 without RAG)" in detail
    assert "p99 TTFT added by the search 5.5 ms" in detail
    assert "p99 latency added 10.5 ms" in detail
