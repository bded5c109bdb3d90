"""Supervision: health, respawn, crash-loop backoff, boot failure, heartbeat,
max_requests, the access log, and the shipped binary's routes."""
import os
import re
import socket
import signal
import time

import pytest

import util
from util import SLOW


def test_healthz_and_404_json(spawn):
    srv = spawn(test_build=False)
    r = util.get(srv.url + "/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json(), dict)
    r = util.get(srv.url + "/no/such/path")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json()["error"], str) and r.json()["error"]


def test_shipped_binary_has_no_test_handlers(spawn):
    srv = spawn(test_build=False)
    for path in ("/_test/pid", "/_test/block?s=5", "/_test/crash", "/_test/stream?n=1&ms=1"):
        r = util.get(srv.url + path, timeout=3)
        assert r.status_code == 404, path
    assert srv.workers() and util.get(srv.url + "/healthz").status_code == 200


def test_test_build_reports_worker_pid(spawn):
    srv = spawn(args=["-w", "2"], workers=2)
    pid = int(util.get(srv.url + "/_test/pid").text.strip())
    assert pid in srv.workers()


def test_killed_worker_replaced_within_one_second(spawn):
    srv = spawn(args=["-w", "2"], workers=2)
    old = srv.workers()
    victim = [p for p in old if util.worker_number(p) == 2][0]
    os.kill(victim, signal.SIGKILL)
    new = util.wait_for(lambda: [p for p in srv.workers() if p not in old], 1.0 * SLOW,
                        interval=0.01, what="replacement worker")
    assert len(new) == 1
    util.wait_for(lambda: util.worker_number(new[0]) == 2, 2 * SLOW,
                  what="title 'llmfork: worker 2' on %d: %r" % (new[0], util.title(new[0])))
    assert util.alive(srv.pid)
    srv.wait_workers(2)
    assert util.get(srv.url + "/healthz").status_code == 200


def test_boot_failure_exits_3_with_message(spawn):
    srv = spawn(args=["-w", "2"], env={"LLMFORK_TEST_BOOT_FAIL": "boom-from-test"}, wait=False)
    rc = srv.wait_exit(10 * SLOW)
    assert rc == 3, (rc, srv.log)
    assert "boom-from-test" in srv.log
    # It stopped instead of respawning workers that cannot boot.
    assert srv.log.count("Booting worker") <= 4, srv.log
    util.wait_for(lambda: not util.group_members(srv.pid), 5 * SLOW, what="no workers left")


@pytest.mark.slow
def test_crash_loop_backs_off(spawn):
    """A slot whose worker keeps dying right after start is restarted later
    and later (exponential backoff), not in a tight loop. The test build has
    no crash-at-start switch, so the test kills each new worker itself as
    soon as it appears (well within the 1 s crash window)."""
    srv = spawn()
    old = set(srv.workers())
    os.kill(old.pop(), signal.SIGKILL)
    born = []
    deadline = time.monotonic() + 15 * SLOW
    while len(born) < 5 and time.monotonic() < deadline:
        assert srv.proc.poll() is None, "master exited on a crash loop:\n" + srv.log
        for p in srv.workers():
            if p not in old:
                born.append(time.monotonic())
                old.add(p)
                os.kill(p, signal.SIGKILL)
        time.sleep(0.002)
    assert len(born) == 5, (born, srv.log[-2000:])
    gaps = [b - a for a, b in zip(born, born[1:])]
    assert all(b > a * 0.8 for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] > 2 * gaps[0], gaps
    assert gaps[-1] >= 0.8, gaps
    assert re.search(r"back(ing)?[ -]?off", srv.log, re.I), srv.log[-2000:]
    # Left alone, the slot comes back after its current delay and serves.
    srv.wait_workers(1, timeout=gaps[-1] * 2 + 3 * SLOW, exclude=old)
    util.wait_for(lambda: util.healthz_ok(srv.port), 5 * SLOW, what="healthz after the crash loop")


@pytest.mark.slow
def test_heartbeat_kills_stuck_worker(spawn):
    srv = spawn(args=["--timeout", "2"])
    old = srv.workers()
    util.block_worker(srv.url)
    t0 = time.monotonic()
    new = srv.wait_workers(1, timeout=10 * SLOW, exclude=old)
    took = time.monotonic() - t0
    assert took >= 1.5, "killed after %.1fs, before the 2 s timeout" % took
    assert not util.alive(old[0])
    assert "WORKER TIMEOUT" in srv.log, srv.log
    assert util.alive(srv.pid)
    util.wait_for(lambda: util.healthz_ok(srv.port), 5 * SLOW, what="healthz after replacement")
    assert int(util.get(srv.url + "/_test/pid").text) == new[0]


@pytest.mark.slow
def test_stream_longer_than_timeout_survives(spawn):
    srv = spawn(args=["--timeout", "2"])
    before = srv.workers()
    t0 = time.monotonic()
    lines = util.read_stream(srv.port, 8, 500)
    assert time.monotonic() - t0 >= 3.4
    assert util.stream_lines_ok(lines, 8), lines
    assert srv.workers() == before
    assert "WORKER TIMEOUT" not in srv.log


def pids_answering(get, url, n):
    """n GETs of /_test/pid made with get(url, timeout=...): the worker pids
    that answered, and what failed (an error, or a status other than 200)."""
    pids, failures = [], []
    for _ in range(n):
        try:
            r = get(url + "/_test/pid", timeout=10 * SLOW)
            assert r.status_code == 200
            pids.append(int(r.text))
        except Exception as e:       # noqa: BLE001 - counted, reported by the caller
            failures.append(repr(e))
    return pids, failures


def test_max_requests_replaces_worker_without_failures(spawn):
    srv = spawn(args=["--max-requests", "5", "-w", "1"])
    pids, failures = pids_answering(util.get, srv.url, 16)
    assert failures == []
    distinct = list(dict.fromkeys(pids))
    assert len(distinct) >= 3, pids
    for p in distinct:
        assert pids.count(p) <= 5, pids
    assert util.alive(srv.pid)


ACCESS_RE = re.compile(
    r'^(?P<h>\S+) - - \[(?P<t>[^\]]+)\] "(?P<r>[^"]*)" (?P<s>\d{3}) (?P<b>\d+|-) '
    r'"(?P<f>[^"]*)" "(?P<a>[^"]*)"(?P<rest>.*)$')


def access_lines(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f]
    except FileNotFoundError:
        return []


def find_access(path, needle, timeout=5 * SLOW):
    return util.wait_for(lambda: [l for l in access_lines(path) if needle in l],
                         timeout, what="access log line with %r" % needle)


def test_access_log_format(spawn, tmp_path):
    log = str(tmp_path / "access.log")
    srv = spawn(args=["--access-logfile", log])
    r = util.get(srv.url + "/healthz?x=1",
                 headers={"User-Agent": "pytest-agent/1.0", "Referer": "http://ref.example/"})
    line = find_access(log, "/healthz?x=1")[0]
    m = ACCESS_RE.match(line)
    assert m, line
    assert m["h"] == "127.0.0.1"
    assert m["r"] == "GET /healthz?x=1 HTTP/1.1"
    assert m["s"] == "200"
    assert int(m["b"]) == len(r.content)
    assert m["f"] == "http://ref.example/"
    assert m["a"] == "pytest-agent/1.0"
    assert re.search(r"\d", m["rest"]), "no duration after the user agent: %r" % line

    r = util.get(srv.url + "/nothing-here", headers={"User-Agent": "ua-404"})
    m = ACCESS_RE.match(find_access(log, "/nothing-here")[0])
    assert m and m["s"] == "404" and int(m["b"]) == len(r.content) and m["a"] == "ua-404"


def test_access_log_escapes_what_the_client_wrote(spawn, tmp_path):
    """A '"' in the user agent, or bytes >= 0x80 in the target or the referer,
    must not end a field early and forge the rest of the line: nginx writes
    '"', '\\', controls and bytes >= 0x7f as \\xHH, and so does llmfork. One
    line per request, every field where a combined-format parser finds it."""
    log = str(tmp_path / "access.log")
    srv = spawn(args=["--access-logfile", log])
    forged = b'evil" 200 1 "http://forged/" "forged-agent'
    evil = (b'GET /healthz?q="x\xc3\xa9\\ HTTP/1.1\r\nHost: x\r\n'
            b"Referer: http://r/\xe2\x82\xac\tz\r\nUser-Agent: " + forged + b"\r\n"
            b"Connection: close\r\n\r\n")
    assert util.raw_request(srv.port, evil).status == 200
    assert util.raw_request(srv.port, b"GET /healthz?v10 HTTP/1.0\r\n\r\n").status == 200
    assert util.get(srv.url + "/healthz?plain", headers={"User-Agent": "ua-plain"}).status_code == 200
    find_access(log, "/healthz?plain")
    with open(log, "rb") as f:
        raw = f.read()
    assert max(raw) < 0x80, raw
    lines = [l for l in raw.decode("ascii").splitlines()
             if '"GET /healthz HTTP/1.1"' not in l]     # spawn's readiness probes
    assert len(lines) == 3, lines
    m = ACCESS_RE.match([l for l in lines if "?q=" in l][0])
    assert m, lines
    assert m["r"] == r"GET /healthz?q=\x22x\xC3\xA9\x5C HTTP/1.1", m["r"]
    assert m["s"] == "200"
    assert m["f"] == r"http://r/\xE2\x82\xAC\x09z", m["f"]
    assert m["a"] == r"evil\x22 200 1 \x22http://forged/\x22 \x22forged-agent", m["a"]
    assert re.fullmatch(r" \d+\.\d{6}", m["rest"]), m["rest"]
    m = ACCESS_RE.match([l for l in lines if "?plain" in l][0])
    assert m and m["r"] == "GET /healthz?plain HTTP/1.1" and m["a"] == "ua-plain", lines
    m = ACCESS_RE.match([l for l in lines if "?v10" in l][0])
    assert m and m["r"] == "GET /healthz?v10 HTTP/1.0" and m["a"] == "-", lines


def test_access_log_requests_rejected_before_parsing(spawn, tmp_path):
    """A request line or head the server cannot read is answered (400, 431)
    and logged as nginx logs it: "-" for the request, the status, the
    bytes of the JSON error."""
    log = str(tmp_path / "access.log")
    srv = spawn(args=["--access-logfile", log])
    for raw, status in ((b"NOT A REQUEST\r\n\r\n", 400),
                        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431)):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
            s.sendall(raw)
            reply = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                reply += d
        assert reply.startswith(b"HTTP/1.1 %d" % status), reply
        body = reply.split(b"\r\n\r\n", 1)[1]
        line = find_access(log, '"-" %d ' % status)[0]
        m = ACCESS_RE.match(line)
        assert m and m["h"] == "127.0.0.1" and m["r"] == "-", line
        assert int(m["b"]) == len(body), (line, body)
    want = 'llmfork_requests_total{route="other",code="4xx"} 2\n'
    util.wait_for(lambda: want in util.get(srv.url + "/metrics").text, 5 * SLOW,
                  what="both counted in /metrics")


def _duration_seconds(rest):
    """The duration field after the user agent: decimal seconds (%(L)s) or
    integer microseconds (%(D)s), as Gunicorn writes them."""
    tok = rest.split()[-1]
    return float(tok) if "." in tok else int(tok) / 1e6


@pytest.mark.slow
def test_access_log_stream_bytes_and_duration(spawn, tmp_path):
    log = str(tmp_path / "access.log")
    srv = spawn(args=["--access-logfile", log])
    lines = util.read_stream(srv.port, 8, 100)
    assert util.stream_lines_ok(lines, 8)
    full = sum(len(l) for l in lines)
    m = ACCESS_RE.match(find_access(log, "n=8&ms=100")[0])
    assert m and m["s"] == "200"
    assert int(m["b"]) == full, (m["b"], full)
    assert 0.6 <= _duration_seconds(m["rest"]) < 10, m["rest"]

    # A client that leaves early: the line says what was really sent.
    got = []
    s = util.connect(srv.port)
    s.sendall(b"GET /_test/stream?n=100&ms=50 HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while buf.count(b"tick") < 3:
        chunk = s.recv(4096)
        assert chunk
        buf += chunk
    got = buf.count(b"tick")
    s.close()
    m = ACCESS_RE.match(find_access(log, "n=100&ms=50", timeout=10 * SLOW)[0])
    assert m, m
    sent = int(m["b"])
    assert 7 * got <= sent < sum(len("tick %d\n" % i) for i in range(100)) // 2, (sent, got)


def test_max_requests_with_keepalive_client(spawn):
    """A keep-alive client is told to close on the last response a worker
    serves (Connection: close), so it never writes into a closing socket."""
    srv = spawn(args=["--max-requests", "4", "-w", "1"])
    with util.requests.Session() as s:
        s.trust_env = False
        pids, failures = pids_answering(s.get, srv.url, 14)
    assert failures == []
    assert len(set(pids)) >= 3, pids


LOG_LINE_RE = re.compile(
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] "
    r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] \S")


def test_error_log_lines_carry_time_pid_level(spawn):
    srv = spawn(args=["-w", "2"], workers=2)
    os.kill(srv.workers()[0], signal.SIGKILL)
    srv.wait_workers(2, exclude=[])
    util.wait_for(lambda: "SIGKILL" in srv.log, 5 * SLOW, what="the worker's death logged")
    assert srv.stop() == 0
    lines = srv.log.splitlines()
    assert len(lines) >= 4, srv.log
    bad = [l for l in lines if not LOG_LINE_RE.match(l)]
    assert bad == [], bad
    pids = {int(LOG_LINE_RE.match(l).group(1)) for l in lines}
    assert srv.pid in pids


def test_log_level_warning_hides_info(spawn):
    srv = spawn(args=["--log-level", "warning"])
    os.kill(srv.workers()[0], signal.SIGKILL)
    util.wait_for(lambda: "SIGKILL" in srv.log, 5 * SLOW, what="the worker's death logged")
    assert "[INFO]" not in srv.log, srv.log


def test_access_log_to_stdout(spawn):
    srv = spawn(args=["--access-logfile", "-"])
    util.get(srv.url + "/healthz?to-stdout", headers={"User-Agent": "ua-stdout"})
    util.wait_for(lambda: "/healthz?to-stdout" in srv.stdout, 5 * SLOW,
                  what="the access line on stdout")
    line = [l for l in srv.stdout.splitlines() if "to-stdout" in l][0]
    assert ACCESS_RE.match(line), line
    assert "to-stdout" not in srv.log


def test_workers_exit_when_master_dies(spawn):
    """Orphans must not keep serving on the listeners (Gunicorn's workers
    notice the parent change and stop); a master killed by the OOM killer
    or by kill -9 must not leave a server nobody supervises."""
    srv = spawn(args=["-w", "2"], workers=2)
    workers = srv.workers()
    os.kill(srv.pid, signal.SIGKILL)
    srv.wait_exit(5)
    util.wait_for(lambda: not any(util.alive(p) for p in workers), 5 * SLOW,
                  what="workers to exit after their master was killed")
