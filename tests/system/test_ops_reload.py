"""Reload and binary upgrade under steady load: five HUPs, then USR2 +
WINCH + TERM to the old master (nginx's and Gunicorn's procedure), with
0 failed requests and 0 streams cut. TERM under load: in-flight streams
complete, new connections are refused, exit 0."""
import os
import socket
import signal
import threading
import time

import util
from util import SLOW


class Load:
    """Fresh-connection GETs and whole streams in loops, until stopped."""

    def __init__(self, port, getters=3, streamers=2):
        self.port = port
        self.stop = threading.Event()
        self.ok = self.streams = 0
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._get, daemon=True)
                        for _ in range(getters)]
        self.threads += [threading.Thread(target=self._stream, daemon=True)
                         for _ in range(streamers)]

    def start(self):
        for t in self.threads:
            t.start()
        util.wait_for(lambda: self.ok >= 20 and self.streams >= 2, 10 * SLOW,
                      what=lambda: "load running (%d ok, %d streams, %s)"
                      % (self.ok, self.streams, self.failures[:3]))

    def _fail(self, what):
        with self.lock:
            self.failures.append(what)

    def _get(self):
        while not self.stop.is_set():
            try:
                if util.healthz_ok(self.port, timeout=10 * SLOW):
                    self.ok += 1
                else:
                    self._fail("healthz not 200")
            except Exception as e:      # noqa: BLE001 - every failure counts
                self._fail(repr(e))

    def _stream(self):
        while not self.stop.is_set():
            try:
                lines = util.read_stream(self.port, 5, 60, timeout=15 * SLOW)
            except Exception as e:      # noqa: BLE001
                self._fail("stream: %r" % e)
                continue
            if util.stream_lines_ok(lines, 5):
                self.streams += 1
            else:
                self._fail("stream cut after %d lines" % len(lines))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20 * SLOW)


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def test_five_hups_then_upgrade_under_load(spawn, tmp_path):
    pidfile = str(tmp_path / "llmfork.pid")
    srv = spawn(args=["-w", "2", "--graceful-timeout", "10", "--pid", pidfile],
                workers=2)
    load = Load(srv.port)
    load.start()
    try:
        for _ in range(5):
            old = srv.workers()
            srv.signal(signal.SIGHUP)
            srv.wait_workers(2, exclude=old, timeout=15 * SLOW)
        # USR2: a new master on the same listeners; the pid file moves
        srv.signal(signal.SIGUSR2)
        util.wait_for(lambda: os.path.exists(pidfile + ".oldbin")
                      and _read_pid(pidfile) not in (0, srv.pid), 10 * SLOW,
                      what=lambda: "new pid file\n" + srv.log)
        new = _read_pid(pidfile)
        assert _read_pid(pidfile + ".oldbin") == srv.pid
        util.wait_for(lambda: len(util.children(new)) == 2, 10 * SLOW,
                      what="the new master's workers")
        time.sleep(0.3)
        srv.signal(signal.SIGWINCH)             # old workers drain
        # the new master is a child of the old one too
        util.wait_for(lambda: set(srv.workers()) == {new}, 15 * SLOW,
                      what="only the new master left under the old")
        srv.signal(signal.SIGTERM)              # the switch is done
        assert srv.wait_exit(15 * SLOW) == 0, srv.log
        time.sleep(0.5)                          # load on the new one only
    finally:
        load.finish()
    try:
        assert load.failures == [], "%d failed (%d ok, %d streams): %s" % (
            len(load.failures), load.ok, load.streams, load.failures[:5])
        assert load.streams >= 5 and load.ok >= 100, (load.ok, load.streams)
        assert util.healthz_ok(srv.port)
        assert not os.path.exists(pidfile + ".oldbin")
        assert _read_pid(pidfile) == new
    finally:
        if util.alive(new):
            os.kill(new, signal.SIGTERM)
            util.wait_for(lambda: not util.alive(new), 15 * SLOW, what="new master gone")


def test_term_under_load_finishes_streams_refuses_new(spawn):
    srv = spawn(args=["-w", "2", "--graceful-timeout", "10"], workers=2)
    streams = [util.StreamThread(srv.port, 8, 150) for _ in range(4)]
    for st in streams:
        st.start()
    for st in streams:
        assert st.first.wait(5 * SLOW)
    srv.signal(signal.SIGTERM)
    util.wait_for(lambda: util.refused(srv.port), 2 * SLOW, interval=0.05,
                  what="new connections refused after TERM")
    assert srv.wait_exit(10 * SLOW) == 0, srv.log
    for st in streams:
        st.join(5)
        assert util.stream_lines_ok(st.lines, 8), st.lines


def _unix_healthz(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * SLOW)
    try:
        s.connect(path)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return util.read_response(s).status
    finally:
        s.close()


def _new_master(srv, pidfile):
    srv.signal(signal.SIGUSR2)
    util.wait_for(lambda: os.path.exists(pidfile + ".oldbin")
                  and _read_pid(pidfile) not in (0, srv.pid), 10 * SLOW,
                  what=lambda: "new pid file\n" + srv.log)
    return _read_pid(pidfile)


def test_upgrade_rolled_back_keeps_the_unix_socket(spawn, tmp_path):
    """deploy.md's rollback: TERM to the new master while the old one
    serves. The socket file nginx connects to must stay: the new master
    inherited it and must leave it to the master that still serves."""
    pidfile = str(tmp_path / "llmfork.pid")
    sock = str(tmp_path / "llmfork.sock")
    srv = spawn(args=["--pid", pidfile], binds=["unix:" + sock])
    new = _new_master(srv, pidfile)
    util.wait_for(lambda: len(util.children(new)) == 1, 10 * SLOW,
                  what="the new master's worker")
    os.kill(new, signal.SIGTERM)
    util.wait_for(lambda: not util.alive(new) and os.path.exists(pidfile)
                  and _read_pid(pidfile) == srv.pid, 15 * SLOW,
                  what=lambda: "the old master's pid file back\n" + srv.log)
    assert os.path.exists(sock), "the new master removed the old one's socket"
    assert _unix_healthz(sock) == 200
    assert srv.stop() == 0
    assert not os.path.exists(sock)


def test_failed_upgrade_keeps_the_unix_socket(spawn, tmp_path):
    """A new binary whose workers cannot boot exits 3; the old master
    serves on, on the same socket file."""
    pidfile = str(tmp_path / "llmfork.pid")
    sock = str(tmp_path / "llmfork.sock")
    srv = spawn(config="workers = 1\n", args=["--pid", pidfile],
                binds=["unix:" + sock])
    srv.write_config("workers = 1\nuser = no-such-user-llmfork\n")
    srv.signal(signal.SIGUSR2)
    util.wait_for(lambda: "this master stays" in srv.log
                  and _read_pid(pidfile) == srv.pid, 15 * SLOW,
                  what=lambda: "the new master's failure\n" + srv.log)
    assert "exited with code 3" in srv.log, srv.log     # 3: a worker cannot boot
    assert os.path.exists(sock), "the failed master removed the old one's socket"
    assert _unix_healthz(sock) == 200
    assert srv.stop() == 0
