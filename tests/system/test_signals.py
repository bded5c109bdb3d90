"""The master's signals, with Gunicorn's meanings."""
import os
import shutil
import socket
import signal
import tempfile
import threading
import time

import pytest

import util
from util import SLOW


def _no_processes_left(srv):
    util.wait_for(lambda: not util.group_members(srv.pid), 5 * SLOW,
                  what="no llmfork process left in group %d" % srv.pid)


@pytest.mark.slow
def test_term_drains_stream_and_refuses_new_connections(spawn):
    srv = spawn(args=["-w", "2", "--graceful-timeout", "15"], workers=2)
    st = util.StreamThread(srv.port, 6, 500)
    st.start()
    assert st.first.wait(5 * SLOW)
    srv.signal(signal.SIGTERM)
    t0 = time.monotonic()
    util.wait_for(lambda: util.refused(srv.port), 2 * SLOW, interval=0.05,
                  what="new connections refused after TERM")
    rc = srv.wait_exit(15 * SLOW)
    took = time.monotonic() - t0
    st.join(5)
    assert util.stream_lines_ok(st.lines, 6), st.lines
    assert rc == 0, (rc, srv.log)
    assert took >= 1.5, "exited %.1fs after TERM, before the stream ended" % took
    _no_processes_left(srv)


def test_term_when_idle_is_prompt(spawn, tmp_path):
    """Idle keep-alive connections do not hold a graceful stop."""
    srv = spawn(args=["-w", "2", "--graceful-timeout", "30"], config="keepalive = 60\n",
                workers=2)
    idle = []
    for _ in range(4):
        s = util.connect(srv.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert util.read_response(s).status == 200
        idle.append(s)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(10 * SLOW)
    took = time.monotonic() - t0
    for s in idle:
        s.close()
    assert rc == 0, (rc, srv.log)
    assert took < 2 * SLOW, "graceful stop of an idle server took %.1fs" % took


@pytest.mark.slow
def test_term_kills_streams_after_graceful_timeout(spawn):
    srv = spawn(args=["--graceful-timeout", "1"])
    worker = srv.workers()[0]
    st = util.StreamThread(srv.port, 20, 500)
    st.start()
    assert st.first.wait(5 * SLOW)
    srv.signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = srv.wait_exit(10 * SLOW)
    took = time.monotonic() - t0
    assert rc == 0, (rc, srv.log)
    assert 0.8 <= took <= 1 + 2 * SLOW, took
    st.join(5)
    assert 0 < len(st.lines) < 20, st.lines
    assert not util.alive(worker)
    _no_processes_left(srv)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT], ids=["INT", "QUIT"])
def test_quick_stop(spawn, sig):
    srv = spawn(args=["-w", "2", "--graceful-timeout", "30"], workers=2)
    st = util.StreamThread(srv.port, 40, 250)
    st.start()
    assert st.first.wait(5 * SLOW)
    srv.signal(sig)
    rc = srv.wait_exit(2 * SLOW)
    assert rc is not None, "master still running 2 s after %s" % sig.name
    assert rc >= 0, "master died of signal %d instead of handling %s" % (-rc, sig.name)
    _no_processes_left(srv)
    st.join(5)
    assert len(st.lines) < 40


class RequestLoop(threading.Thread):
    """Fresh-connection GET /healthz in a loop, counting failures."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            try:
                r = util.get(self.url + "/healthz", timeout=10 * SLOW)
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(r.status_code)
            except Exception as e:      # noqa: BLE001 - every failure counts
                self.failures.append(repr(e))

    def finish(self):
        self.stop.set()
        self.join(15 * SLOW)


@pytest.mark.slow
def test_hup_replaces_workers_without_dropping(spawn):
    srv = spawn(config="workers = 2\n", workers=2)
    old = srv.workers()
    loops = [RequestLoop(srv.url) for _ in range(3)]
    for loop in loops:
        loop.start()
    st = util.StreamThread(srv.port, 6, 500)
    st.start()
    assert st.first.wait(5 * SLOW)
    ok = lambda: sum(loop.ok for loop in loops)     # noqa: E731
    util.wait_for(lambda: ok() >= 10, 5 * SLOW, what="requests before HUP")
    srv.signal(signal.SIGHUP)
    new = srv.wait_workers(2, exclude=old, timeout=15 * SLOW)
    ok_at_replace = ok()
    util.wait_for(lambda: ok() >= ok_at_replace + 10, 5 * SLOW, what="requests after HUP")
    for loop in loops:
        loop.finish()
    st.join(10 * SLOW)
    failures = [f for loop in loops for f in loop.failures]
    assert failures == [], "%d of %d requests failed: %s" % (
        len(failures), ok() + len(failures), failures[:3])
    assert util.stream_lines_ok(st.lines, 6), st.lines
    assert all(not util.alive(p) for p in old)
    assert sorted(util.worker_number(p) for p in new) == [1, 2]
    assert util.alive(srv.pid)


def test_term_answers_or_refuses_never_drops(spawn):
    """Requests racing a TERM are answered, refused, or reset (closing the
    listening socket resets what is still in its accept queue); but a
    connection the server accepted is never closed cleanly without a
    response, which the client sees as RemoteDisconnected."""
    srv = spawn(args=["-w", "2", "--graceful-timeout", "10"], workers=2)
    loops = [RequestLoop(srv.url) for _ in range(3)]
    for loop in loops:
        loop.start()
    util.wait_for(lambda: sum(l.ok for l in loops) >= 30, 5 * SLOW, what="requests")
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(10 * SLOW)
    time.sleep(0.2)
    for loop in loops:
        loop.finish()
    assert rc == 0, (rc, srv.log)
    failures = [f for l in loops for f in l.failures]
    dropped = [f for f in failures if "RemoteDisconnected" in f]
    assert dropped == [], "%d dropped (of %d failed): %s" % (
        len(dropped), len(failures), dropped[:3])


def test_hup_with_every_scoreboard_slot_taken(spawn):
    """Workers of older generations still draining can hold every one of
    the 512 scoreboard slots: HUPs closer together than graceful_timeout
    while streams are open stack generations (three of 171 workers, or
    five of 103, are more than 512; workers may be 255). The master must keep
    the old generation serving past the boot allowance (timeout) rather
    than retire it for a new one that cannot start, say so once instead of
    a line per missing worker per tick, and start the new workers when
    slots come free. The test build's /_test/slots takes the free slots
    as draining workers would, without hundreds of processes."""
    srv = spawn(config="workers = 1\ntimeout = 2\n", workers=1)
    old = srv.workers()
    assert util.get(srv.url + "/_test/slots?hold=1").text.strip() == "511"
    s = util.connect(srv.port)      # a stream the old worker is serving
    try:
        s.sendall(b"GET /_test/stream?n=100&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096)
        srv.signal(signal.SIGHUP)
        util.wait_for(lambda: "starting generation" in srv.log, 5 * SLOW, what="the reload")
        time.sleep(3 * SLOW)    # past timeout = 2, and 30 ticks of 100 ms
        assert srv.workers() == old, srv.log
        for _ in range(4):      # the old worker still accepts
            assert util.get(srv.url + "/healthz", timeout=2 * SLOW).status_code == 200
    finally:
        s.close()
    assert srv.log.count("No free scoreboard slot") == 1, srv.log
    assert util.get(srv.url + "/_test/slots?hold=0").text.strip() == "511"
    new = srv.wait_workers(1, exclude=old, timeout=10 * SLOW)
    assert util.worker_number(new[0]) == 1
    assert "A scoreboard slot is free again" in srv.log
    assert util.get(srv.url + "/healthz").status_code == 200


def test_hup_with_bad_config_keeps_old_workers(spawn):
    srv = spawn(config="workers = 2\nkeepalive = 2\n", workers=2)
    old = srv.workers()
    log_before = len(srv.log)
    srv.write_config("workers = 2\nkeepalive = banana\n")
    srv.signal(signal.SIGHUP)
    util.wait_for(lambda: any(w in srv.log[log_before:]
                              for w in (srv.config_path + ":2:", "keepalive")), 5 * SLOW,
                  what=lambda: "the bad line reported in the log:\n" + srv.log)
    time.sleep(0.5 * SLOW)
    assert srv.workers() == old
    assert util.alive(srv.pid)
    for _ in range(4):
        assert util.get(srv.url + "/healthz").status_code == 200


def test_hup_applies_new_worker_count(spawn):
    srv = spawn(config="workers = 1\n", workers=1)
    srv.signal(signal.SIGTTIN)
    old = srv.wait_workers(2)
    # The file's count changed: it wins over the TTIN adjustment.
    srv.write_config("workers = 3\n")
    srv.signal(signal.SIGHUP)
    new = srv.wait_workers(3, exclude=old, timeout=10 * SLOW)
    assert sorted(util.worker_number(p) for p in new) == [1, 2, 3]
    assert util.get(srv.url + "/healthz").status_code == 200


@pytest.mark.slow
def test_ttin_ttou(spawn):
    srv = spawn(config="workers = 2\n", workers=2)
    srv.signal(signal.SIGTTIN)
    w3 = srv.wait_workers(3)
    util.wait_for(lambda: sorted(util.worker_number(p) or 0 for p in w3) == [1, 2, 3],
                  3 * SLOW, what="worker titles 1..3")
    # Kept across HUP when the file's workers is unchanged.
    srv.signal(signal.SIGHUP)
    srv.wait_workers(3, exclude=w3, timeout=10 * SLOW)
    time.sleep(0.3)
    assert len(srv.workers()) == 3
    for n in (2, 1):
        srv.signal(signal.SIGTTOU)
        srv.wait_workers(n)
    srv.signal(signal.SIGTTOU)          # never below 1
    time.sleep(1.0 * SLOW)
    assert len(srv.workers()) == 1
    assert util.get(srv.url + "/healthz").status_code == 200
    assert util.alive(srv.pid)


def test_usr1_reopens_logs(spawn, tmp_path):
    acc = str(tmp_path / "access.log")
    err = str(tmp_path / "error.log")
    srv = spawn(args=["-w", "2", "--access-logfile", acc, "--error-logfile", err], workers=2)
    workers = set(srv.workers())

    def hit_both(tag):
        seen, n = set(), 0
        while seen != workers:
            n += 1
            assert n < 200, "requests never reached both workers"
            seen.add(int(util.get(srv.url + "/_test/pid?%s=%d" % (tag, n)).text))
        return n

    hit_both("before")
    util.wait_for(lambda: os.path.exists(acc) and "before=" in open(acc).read(), 5 * SLOW)
    os.rename(acc, acc + ".1")
    os.rename(err, err + ".1")
    srv.signal(signal.SIGUSR1)
    util.wait_for(lambda: os.path.exists(acc) and os.path.exists(err), 5 * SLOW,
                  what="log files reopened after USR1")
    time.sleep(0.5 * SLOW)      # the master forwards USR1 to the workers
    n = hit_both("after")
    util.wait_for(lambda: open(acc).read().count("after=") == n, 5 * SLOW,
                  what="all %d new requests in the new access log" % n)
    assert "after=" not in open(acc + ".1").read()
    assert srv.workers() == sorted(workers)



@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_usr1_reopens_logs_after_workers_drop_privileges(spawn, tmp_path):
    """The master (root) reopens first and creates the new files; the
    workers, now nobody, reopen them by path after it (deploy.md: run as
    root with user = ...). They must be able to, as with nginx and
    Gunicorn, or their lines keep going to the rotated file."""
    logdir = tempfile.mkdtemp(prefix="llmfork-logs-")     # nobody can reach it,
    os.chmod(logdir, 0o755)                               # as /var/log/llmfork
    try:
        acc, err = logdir + "/access.log", logdir + "/error.log"
        srv = spawn(args=["--user", "nobody", "--group", "nogroup",
                          "--access-logfile", acc, "--error-logfile", err])
        util.get(srv.url + "/healthz?before")
        util.wait_for(lambda: "before" in open(acc).read(), 5 * SLOW, what="log")
        os.rename(acc, acc + ".1")
        os.rename(err, err + ".1")
        srv.signal(signal.SIGUSR1)
        util.wait_for(lambda: "Handling signal: usr1" in open(err + ".1").read(),
                      5 * SLOW, what="USR1 handled")

        def after_in_new():
            util.get(srv.url + "/healthz?after")
            return os.path.exists(acc) and "after" in open(acc).read()
        util.wait_for(after_in_new, 5 * SLOW, interval=0.2,
                      what=lambda: "lines in the new access log\n"
                      + open(err + ".1").read())
        assert "Cannot reopen" not in open(err + ".1").read() + open(err).read()
        assert srv.stop() == 0
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


class NotifySocket:
    """A stand-in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait_match(self, pred, timeout, what="such message"):
        """Collects datagrams until pred(message) holds; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(msg)
            if pred(msg):
                return msg
        raise AssertionError("no %s; got %r" % (what, self.messages))

    def wait(self, key, timeout):
        """Collects datagrams until one has the line key; returns it."""
        return self.wait_match(lambda msg: key in msg.splitlines(), timeout,
                               "%s from the master" % key)

    def drain(self):
        """Keeps what is queued now."""
        self.sock.settimeout(0.05)
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except socket.timeout:
            pass

    def close(self):
        self.sock.close()


def test_sd_notify(spawn, tmp_path):
    ns = NotifySocket(str(tmp_path / "notify.sock"))
    try:
        srv = spawn(args=["-w", "2"], workers=2, env={"NOTIFY_SOCKET": ns.path})
        ready = ns.wait("READY=1", 5 * SLOW)
        assert "MAINPID=%d" % srv.pid in ready.splitlines(), ready
        old = srv.workers()
        srv.signal(signal.SIGHUP)
        ns.wait("RELOADING=1", 5 * SLOW)
        ns.wait("READY=1", 10 * SLOW)
        # Ready again means the new workers accept.
        assert set(srv.workers()) - set(old)
        srv.signal(signal.SIGTERM)
        ns.wait("STOPPING=1", 5 * SLOW)
        assert srv.wait_exit(10 * SLOW) == 0
    finally:
        ns.close()
