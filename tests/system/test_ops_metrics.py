"""Operations: /metrics (Prometheus text, checked by promtool), on the
apps' listeners or on metrics_bind alone (through HUP and a USR2 upgrade),
/readyz, log rotation with logrotate + USR1, X-Forwarded-For from trusted
proxies."""
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid

import pytest
import requests

import util
from util import SLOW
from upstream import chat_body, mock, post, say, serve  # noqa: F401 - fixture

PROMTOOL = shutil.which("promtool")
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"


def scrape(srv):
    r = util.get(srv.url + "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def value(text, name, **labels):
    """The sample name{labels...} (labels a subset, in any order); 0 if
    absent."""
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == str(v) for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else 0.0


def promtool_ok(text):
    if PROMTOOL is None:
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


def test_metrics_count_requests_upstream_retries_ttft(spawn, mock):
    srv = serve(spawn, mock, "openai", workers=2)
    before = scrape(srv)
    assert value(before, "llmfork_workers_ready") == 2
    key = uuid.uuid4().hex[:12]
    # One 429 from the model, retried by llmfork; then a whole stream.
    r = post(srv.port, "/chat/stream", chat_body(say(
        "hi", fault="429:ms=50", fail_count=1, fault_key=key, tokens=3)))
    assert r.status == 200 and r.complete, r.body
    r = post(srv.port, "/chat", {"messages": "nope"})
    assert r.status == 400
    # a worker counts a request just after its last byte went out, and
    # another worker may answer the scrape: wait for the count
    def counted():
        t = scrape(srv)
        return t if (value(t, "llmfork_requests_total", route="/chat/stream", code="2xx"),
                     value(t, "llmfork_requests_total", route="/chat", code="4xx")) == (1, 1) \
            else None
    text = util.wait_for(counted, 5 * SLOW, what="both requests counted")
    promtool_ok(text)
    assert value(text, "llmfork_upstream_requests_total", status="429") == 1
    assert value(text, "llmfork_upstream_requests_total", status="2xx") == 1
    assert value(text, "llmfork_upstream_retries_total") == 1
    assert value(text, "llmfork_time_to_first_token_seconds_count") == 1
    # the retry waited 50 ms before the first token could come
    assert value(text, "llmfork_time_to_first_token_seconds_bucket", le="0.05") == 0
    assert value(text, "llmfork_time_to_first_token_seconds_bucket", le="+Inf") == 1
    dur = value(text, "llmfork_request_duration_seconds_count")
    assert dur >= 3, text        # the two above and the first scrape
    assert len(re.findall(r"^llmfork_worker_connections\{", text, re.M)) == 2


def test_metrics_totals_survive_worker_deaths_and_reloads(spawn):
    srv = spawn(args=["-w", "2"], workers=2)
    for _ in range(6):
        assert util.get(srv.url + "/healthz").status_code == 200
    old = srv.workers()
    try:
        util.get(srv.url + "/_test/crash", timeout=5)
    except Exception:       # noqa: BLE001 - the worker dies under it
        pass
    srv.wait_workers(2, exclude=[p for p in old if not util.alive(p)])
    util.wait_for(lambda: value(scrape(srv), "llmfork_worker_restarts_total",
                                cause="signal") == 1, 5 * SLOW, what="a restart by signal")
    srv.signal(signal.SIGHUP)
    util.wait_for(lambda: value(scrape(srv), "llmfork_reloads_total") == 1,
                  5 * SLOW, what="reloads_total 1")
    srv.wait_workers(2, exclude=old, timeout=10 * SLOW)
    text = scrape(srv)
    promtool_ok(text)
    # the old workers' counts were folded in when they were reaped
    assert value(text, "llmfork_requests_total", route="/healthz", code="2xx") >= 6
    assert value(text, "llmfork_requests_total", route="other", code="5xx") == 0
    assert value(text, "llmfork_worker_restarts_total", cause="timeout") == 0


def test_readyz(spawn):
    srv = spawn(args=["-w", "2"], workers=2)
    r = util.get(srv.url + "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "provider": "mock", "workers": 2,
                        "workers_wanted": 2}


def logrotate_conf(tmp_path, logdir, pidfile):
    """etc/logrotate.d/llmfork with its paths moved into tmp_path."""
    with open(os.path.join(util.ROOT, "etc/logrotate.d/llmfork")) as f:
        text = f.read()
    assert "/var/log/llmfork/" in text and "/run/llmfork/llmfork.pid" in text
    text = text.replace("/var/log/llmfork/", logdir + "/").replace(
        "/run/llmfork/llmfork.pid", pidfile)
    path = tmp_path / "logrotate.conf"
    path.write_text(text)
    return str(path)


def test_logrotate_usr1(spawn, tmp_path):
    logdir = str(tmp_path / "logs")
    os.mkdir(logdir)
    acc, pidfile = logdir + "/access.log", str(tmp_path / "llmfork.pid")
    srv = spawn(args=["-w", "2", "--access-logfile", acc, "--pid", pidfile], workers=2)
    for i in range(4):
        util.get(srv.url + "/healthz?before=%d" % i)
    util.wait_for(lambda: open(acc).read().count("before=") == 4, 5 * SLOW, what="log")
    conf = logrotate_conf(tmp_path, logdir, pidfile)
    p = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "state"), conf],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    assert os.path.exists(acc + ".1") and "before=" in open(acc + ".1").read()
    # the master got USR1, so every worker writes to the new file
    def all_in_new():
        for i in range(4):
            util.get(srv.url + "/healthz?after=%d" % i)
        return os.path.exists(acc) and open(acc).read().count("after=") >= 4
    util.wait_for(all_in_new, 5 * SLOW, interval=0.2, what="lines in the new access log")
    assert "after=" not in open(acc + ".1").read()
    assert "before=" not in open(acc).read()


def test_forwarded_for_only_from_trusted_proxies(spawn, tmp_path):
    acc = str(tmp_path / "access.log")
    trusted = spawn(args=["-w", "1", "--access-logfile", acc], name="trusted")
    hdr = {"X-Forwarded-For": "198.51.100.7, 127.0.0.1", "X-Forwarded-Proto": "https"}
    util.get(trusted.url + "/healthz?t=1", headers=hdr)
    acc2 = str(tmp_path / "access2.log")
    other = spawn(args=["-w", "1", "--access-logfile", acc2,
                        "--forwarded-allow-ips", "10.0.0.0/8"], name="untrusted")
    util.get(other.url + "/healthz?t=2", headers=hdr)

    def line(path, mark):
        util.wait_for(lambda: mark in open(path).read(), 5 * SLOW, what=mark)
        return [l for l in open(path) if mark in l][0]
    assert line(acc, "t=1").startswith("198.51.100.7 "), open(acc).read()
    assert line(acc2, "t=2").startswith("127.0.0.1 "), open(acc2).read()



def test_forwarded_for_in_several_header_lines_is_one_list(spawn, tmp_path):
    """HAProxy's option forwardfor adds its own X-Forwarded-For line after
    the client's: the lines are one list (RFC 9110 5.3), so the client is
    the nearest proxy's entry, not the line the client wrote itself."""
    acc = str(tmp_path / "access.log")
    srv = spawn(args=["-w", "1", "--access-logfile", acc])
    s = util.connect(srv.port)
    try:
        s.sendall(b"GET /healthz?several HTTP/1.1\r\nHost: x\r\n"
                  b"X-Forwarded-For: 203.0.113.66\r\n"
                  b"X-Forwarded-For: 198.51.100.7\r\n"
                  b"Connection: close\r\n\r\n")
        assert util.read_response(s).status == 200
    finally:
        s.close()
    util.wait_for(lambda: "several" in open(acc).read(), 5 * SLOW, what="log")
    line = [l for l in open(acc) if "several" in l][0]
    assert line.startswith("198.51.100.7 "), line


# ---- metrics_bind: /metrics on an address of its own ----------------------

def metrics_srv(spawn, mport, workers=2, args=(), **kw):
    """A server whose config file sets metrics_bind (so HUP re-reads it)."""
    return spawn(args=["-w", str(workers)] + list(args), workers=workers,
                 config="metrics_bind = 127.0.0.1:%d\n" % mport, **kw)


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def murl(mport, path):
    return "http://127.0.0.1:%d%s" % (mport, path)


def scrape_at(mport):
    r = util.get(murl(mport, "/metrics"))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def assert_not_public(srv):
    for method in ("GET", "HEAD", "POST"):
        with requests.Session() as s:
            s.trust_env = False
            r = s.request(method, srv.url + "/metrics", timeout=10)
        assert r.status_code == 404, (method, r.status_code, r.text)
        assert "llmfork_" not in r.text


def test_metrics_bind_serves_metrics_only_there(spawn):
    mport = util.free_port()
    srv = metrics_srv(spawn, mport)
    assert "Metrics at: http://127.0.0.1:%d" % mport in srv.log
    for i in range(5):
        assert util.get(srv.url + "/healthz?n=%d" % i).status_code == 200
    assert_not_public(srv)
    # the scrape port: health and readiness too, nothing of the apps
    assert util.get(murl(mport, "/healthz")).status_code == 200
    r = util.get(murl(mport, "/readyz"))
    assert r.status_code == 200 and r.json()["workers"] == 2, r.text
    for path in ("/chat", "/", "/v1/models", "/index.html"):
        assert util.get(murl(mport, path)).status_code == 404, path
    # totals still cover what the apps' listeners served, from any worker
    text = util.wait_for(
        lambda: (lambda t: t if value(t, "llmfork_requests_total",
                                      route="/healthz", code="2xx") >= 5 else None)(
            scrape_at(mport)), 5 * SLOW, what="the healthz requests counted")
    promtool_ok(text)
    assert value(text, "llmfork_requests_total", route="/metrics", code="4xx") >= 3
    assert len(re.findall(r"^llmfork_worker_connections\{", text, re.M)) == 2


def test_metrics_bind_bad_or_shared_address_is_refused(cli):
    port = util.free_port()
    rc, out, err = cli(["--check-config", "-b", "127.0.0.1:%d" % port,
                        "--metrics-bind", "127.0.0.1:%d" % port])
    assert rc != 0 and "metrics_bind address '127.0.0.1:%d' is in bind too" % port in err, err
    rc, out, err = cli(["--check-config", "--metrics-bind", "127.0.0.1:99999"])
    assert rc != 0 and "127.0.0.1:99999" in err, err


def test_metrics_bind_survives_hup_and_moves_with_it(spawn):
    mport = util.free_port()
    srv = metrics_srv(spawn, mport)
    old = srv.workers()
    srv.signal(signal.SIGHUP)                   # unchanged: same socket
    srv.wait_workers(2, exclude=old, timeout=10 * SLOW)
    util.wait_for(lambda: value(scrape_at(mport), "llmfork_reloads_total") == 1,
                  5 * SLOW, what="reloads_total 1 on the metrics port")
    text = scrape_at(mport)
    promtool_ok(text)
    assert_not_public(srv)
    # a new address in the file: bound on HUP, the old one closed once the
    # old workers are gone
    mport2 = util.free_port()
    srv.write_config("metrics_bind = 127.0.0.1:%d\n" % mport2)
    old = srv.workers()
    srv.signal(signal.SIGHUP)
    srv.wait_workers(2, exclude=old, timeout=10 * SLOW)
    assert value(scrape_at(mport2), "llmfork_reloads_total") == 2
    util.wait_for(lambda: util.refused(mport), 5 * SLOW,
                  what=lambda: "the old metrics port closed\n" + srv.log)
    assert_not_public(srv)
    # and none at all: /metrics is back on the apps' listeners
    srv.write_config("")
    old = srv.workers()
    srv.signal(signal.SIGHUP)
    srv.wait_workers(2, exclude=old, timeout=10 * SLOW)
    util.wait_for(lambda: util.refused(mport2), 5 * SLOW, what="no metrics port")
    assert value(scrape(srv), "llmfork_reloads_total") == 3


@pytest.mark.parametrize("systemd", [False, True], ids=["bind", "LISTEN_FDS"])
def test_metrics_bind_kept_by_usr2_upgrade(spawn, tmp_path, systemd):
    """With systemd's socket the new master gets it as LISTEN_FDS and the
    metrics socket as LLMFORK_FDS, both at once."""
    mport = util.free_port()
    pidfile = str(tmp_path / "llmfork.pid")
    sock = listening_socket() if systemd else None
    try:
        upgrade_keeps_metrics(mport, pidfile, metrics_srv(
            spawn, mport, args=["--pid", pidfile], listen_sock=sock,
            systemd=systemd))
    finally:
        if sock is not None:
            sock.close()


def upgrade_keeps_metrics(mport, pidfile, srv):
    assert value(scrape_at(mport), "llmfork_workers_ready") == 2
    srv.signal(signal.SIGUSR2)
    util.wait_for(lambda: os.path.exists(pidfile + ".oldbin")
                  and read_pid(pidfile) not in (0, srv.pid), 10 * SLOW,
                  what=lambda: "new pid file\n" + srv.log)
    new = read_pid(pidfile)
    try:
        util.wait_for(lambda: len(util.children(new)) == 2, 10 * SLOW,
                      what="the new master's workers")
        # the new master adopted the socket rather than binding another
        assert "Metrics at: http://127.0.0.1:%d (%d)" % (mport, new) in srv.log
        srv.signal(signal.SIGWINCH)
        util.wait_for(lambda: set(srv.workers()) == {new}, 15 * SLOW,
                      what="only the new master left under the old")
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit(15 * SLOW) == 0, srv.log
        # only the new master's workers are left to answer, on the same port
        text = util.wait_for(
            lambda: (lambda t: t if value(t, "llmfork_workers_ready") == 2 else None)(
                scrape_at(mport)), 5 * SLOW, what="the new workers on the metrics port")
        promtool_ok(text)
        pids = set(int(p) for p in re.findall(
            r'^llmfork_worker_connections\{[^}]*pid="(\d+)"', text, re.M))
        assert pids == set(util.children(new)), (pids, text)
        assert_not_public(srv)
        assert util.get(srv.url + "/healthz").status_code == 200
    finally:
        if util.alive(new):
            os.kill(new, signal.SIGTERM)
            util.wait_for(lambda: not util.alive(new), 15 * SLOW, what="new master gone")


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0
