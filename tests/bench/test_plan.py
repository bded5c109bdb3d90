"""scripts/bench/run: the order targets run in. Rounded targets run once
per round, each round starting one target further on, so no target always
runs right after nginx (the same /v1 code read 1.12x itself when it did);
the mock direct runs before the rounds (or in them, where the workload
says so) and the peer after."""
import importlib.machinery
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "..", "scripts", "bench", "run")


def load_run():
    loader = importlib.machinery.SourceFileLoader("bench_run", RUN)
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def order(wl, compare=False):
    m = load_run()
    return [(t.name, r) for t, r in m.in_turn(wl, m.T.all_targets(compare))]


def test_rounds_rotate_and_the_others_run_once():
    got = order({"name": "w", "rounds": 3})
    assert got == [("mock", 0),
                   ("nginx", 0), ("v1", 0), ("stream", 0),
                   ("v1", 1), ("stream", 1), ("nginx", 1),
                   ("stream", 2), ("nginx", 2), ("v1", 2),
                   ("peer", 0)]


def test_a_workload_can_put_the_mock_in_the_rounds():
    got = order({"name": "w", "rounds": 2, "rounded": ("mock",)})
    assert got[0] == ("mock", 0)
    assert got.count(("mock", 1)) == 1
    assert [n for n, r in got if r == 1] == ["nginx", "v1", "stream", "mock"]
    assert got[-1] == ("peer", 0)


def test_compare_targets_take_turns_too():
    got = order({"name": "w", "rounds": 5}, compare=True)
    for r in range(5):
        names = [n for n, rr in got if rr == r and n != "mock" and n != "peer"]
        assert sorted(names) == sorted(["nginx", "v1", "stream", "v1-b",
                                        "stream-b"])
    firsts = {[n for n, rr in got if rr == r and n not in ("mock", "peer")][0]
              for r in range(5)}
    assert len(firsts) == 5


def test_only_rounded_targets_of_rows_in_rounds_keep_their_servers():
    m = load_run()
    t = {x.name: x for x in m.T.all_targets(False)}
    wl = {"name": "w", "rounds": 3, "rounded": ("mock",)}
    assert [n for n in t if m.kept(wl, t[n])] == ["mock", "nginx", "v1", "stream"]
    assert not any(m.kept({"name": "w"}, x) for x in t.values())
    assert not m.kept({"name": "w", "rounds": 1}, t["v1"])


def test_a_workload_picks_its_targets_and_adds_its_own():
    m = load_run()
    wl = {"name": "w", "rounds": 2, "targets": ("stream",),
          "extra": ("rag-pg",), "rounded": ("rag-pg",)}
    assert [t.name for t in m.row_targets(wl, False)] == ["stream", "rag-pg"]
    assert [t.name for t in m.row_targets(wl, True)] == \
        ["stream", "stream-b", "rag-pg"]
    got = [(t.name, r) for t, r in m.in_turn(wl, m.row_targets(wl, False))]
    assert got == [("stream", 0), ("rag-pg", 0), ("rag-pg", 1), ("stream", 1)]


def test_the_responses_target_asks_for_the_translated_way():
    m = load_run()
    t = m.T.extra_target("responses")
    assert t.path(True) == "/v1/responses"
    assert t.settings({}) == {"LLMFORK_RESPONSES_UPSTREAM": "chat"}
    assert t.body(True)["input"] and t.body(True)["stream"] is True
