"""Debian's nginx with etc/nginx/llmfork.conf in front of llmfork: the
config passes nginx -t, a stream arrives incrementally, two instances
share the load, and stopping one loses no non-streaming request."""
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import util
from util import SLOW

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def site(backends, port):
    """The shipped site with its upstream servers and listen port replaced."""
    with open(os.path.join(util.ROOT, "etc/nginx/llmfork.conf")) as f:
        text = f.read()
    servers = "".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % b
                      for b in backends)
    text, n = re.subn(r"^\s*server unix:\S+[^\n]*\n", servers, text, flags=re.M)
    assert n == 1, "the upstream's server line moved"
    text = re.sub(r"^\s*listen \[::\]:80;\n", "", text, flags=re.M)
    text, n = re.subn(r"listen 80;", "listen 127.0.0.1:%d;" % port, text)
    assert n == 1
    return text


class Nginx:
    def __init__(self, tmp_path, backends):
        if not os.path.exists(NGINX):
            pytest.skip("nginx is not installed")
        self.prefix = tmp_path / "nginx"
        (self.prefix / "logs").mkdir(parents=True)
        self.port = util.free_port()
        (self.prefix / "llmfork.conf").write_text(site(backends, self.port))
        p = self.prefix
        (p / "nginx.conf").write_text("""
daemon off;
master_process on;
worker_processes 1;
pid %(p)s/nginx.pid;
error_log %(p)s/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log %(p)s/logs/access.log;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    include %(p)s/llmfork.conf;
}
""" % {"p": p})
        self.proc = None

    def cmd(self, *extra):
        return [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")] + list(extra)

    def test_config(self):
        return subprocess.run(self.cmd("-t"), capture_output=True, timeout=30)

    def start(self):
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        util.wait_for(lambda: not util.refused(self.port), 10 * SLOW, interval=0.05,
                      what="nginx listening")
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture
def nginx(tmp_path):
    made = []

    def make(backends):
        n = Nginx(tmp_path, backends)
        made.append(n)
        return n
    yield make
    for n in made:
        n.stop()


def test_nginx_t_accepts_the_site(nginx, spawn):
    n = nginx([util.free_port()])
    p = n.test_config()
    assert p.returncode == 0, p.stderr.decode()
    assert b"syntax is ok" in p.stderr


def test_stream_through_nginx_is_incremental(nginx, spawn):
    srv = spawn(args=["-w", "1", "--access-logfile", "-"])
    n = nginx([srv.port]).start()
    stamps = []
    t0 = time.monotonic()
    lines = util.read_stream(n.port, 5, 200, on_line=lambda l: stamps.append(time.monotonic() - t0))
    assert util.stream_lines_ok(lines, 5), lines
    # 5 ticks 200 ms apart: the first long before the last
    assert stamps[-1] - stamps[0] >= 0.6, stamps
    # the client behind nginx is the one the access log names
    r = util.get(n.url + "/healthz?xff=1", headers={"X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 200
    util.wait_for(lambda: "xff=1" in srv.stdout, 5 * SLOW, what="access line")
    line = [l for l in srv.stdout.splitlines() if "xff=1" in l][0]
    assert line.startswith("203.0.113.5 "), line


def test_two_instances_share_and_one_stops_without_loss(nginx, spawn):
    a = spawn(args=["-w", "1", "--graceful-timeout", "5"], name="a")
    b = spawn(args=["-w", "1", "--graceful-timeout", "5"], name="b")
    n = nginx([a.port, b.port]).start()
    seen = {}
    for _ in range(20):
        r = util.get(n.url + "/_test/pid")
        assert r.status_code == 200
        seen[r.text.strip()] = seen.get(r.text.strip(), 0) + 1
    assert len(seen) == 2, seen
    # steady load through nginx while a stops
    stop, ok, failures = threading.Event(), [0], []

    def loop():
        while not stop.is_set():
            try:
                r = util.get(n.url + "/healthz", timeout=10 * SLOW)
                if r.status_code == 200:
                    ok[0] += 1
                else:
                    failures.append(r.status_code)
            except Exception as e:      # noqa: BLE001
                failures.append(repr(e))
    threads = [threading.Thread(target=loop, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert a.stop() == 0
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(15)
    assert failures == [], failures[:5]
    assert ok[0] > 50
    assert util.get(n.url + "/healthz").status_code == 200


def post(url, data, ctype="application/json"):
    with util.requests.Session() as s:
        s.trust_env = False
        return s.post(url, data=data, timeout=10 * SLOW,
                      headers={"Content-Type": ctype, "Connection": "close"})


def test_nginx_own_errors_are_json(nginx, spawn):
    # A body over client_max_body_size, or no instance to answer: nginx
    # answers itself, in JSON like llmfork's errors (OpenAI's shape on the
    # gateway's routes), not with its HTML page.
    srv = spawn(args=["-w", "1"])
    n = nginx([srv.port]).start()
    big = b"x" * (2 * 1024 * 1024)

    def check(status, body):
        for path in ("/chat", "/chat/stream", "/"):
            r = post(n.url + path, body)
            assert r.status_code == status, (path, r.status_code, r.text[:200])
            assert r.headers["Content-Type"] == "application/json", r.headers
            assert isinstance(r.json()["error"], str) and r.json()["error"]
        r = post(n.url + "/v1/chat/completions", body)
        assert r.status_code == status, (r.status_code, r.text[:200])
        assert {"message", "type", "code"} <= set(r.json()["error"]), r.text
    check(413, big)
    # llmfork's own errors still pass through as they are
    r = post(n.url + "/chat", b"{}", ctype="text/plain")
    assert r.status_code == 415 and "Content-Type" in r.json()["error"]
    assert srv.stop() == 0
    check(502, b"{}")
