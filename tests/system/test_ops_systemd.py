"""Operations under systemd: the unit files verify, sd_notify (READY only
when every worker accepts, RELOADING with MONOTONIC_USEC, STATUS,
WATCHDOG, STOPPING), socket activation with systemd-socket-activate,
workers dropping privileges after a privileged bind."""
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

import pytest

import util
from util import SLOW
from conftest import clean_environ
from test_signals import NotifySocket

ANALYZE = shutil.which("systemd-analyze")
ACTIVATE = shutil.which("systemd-socket-activate")


def test_units_verify(tmp_path):
    """systemd-analyze verify on both units, with ExecStart pointing at the
    build (verify insists the binary exists)."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze is not installed")
    for name in ("llmfork.service", "llmfork.socket"):
        with open(os.path.join(util.ROOT, "etc", name)) as f:
            text = f.read()
        if name.endswith(".service"):
            assert "ExecStart=/usr/local/bin/llmfork " in text
            text = text.replace("/usr/local/bin/llmfork", util.SHIPPED)
        (tmp_path / name).write_text(text)
    p = subprocess.run([ANALYZE, "verify", str(tmp_path / "llmfork.socket"),
                        str(tmp_path / "llmfork.service")],
                       capture_output=True, timeout=60, cwd=str(tmp_path))
    out = (p.stdout + p.stderr).decode()
    assert p.returncode == 0, out
    # verify only warns about unknown or bad settings: none is allowed
    assert "llmfork" not in out, out


def test_unit_settings_fit_the_server():
    text = open(os.path.join(util.ROOT, "etc/llmfork.service")).read()
    conf = open(os.path.join(util.ROOT, "etc/llmfork.conf")).read()
    graceful = int([l for l in conf.splitlines()
                    if l.startswith("graceful_timeout")][0].split("=")[1])
    stop = int([l for l in text.splitlines()
                if l.startswith("TimeoutStopSec=")][0].split("=")[1].rstrip("s"))
    assert stop > graceful
    for needed in ("Type=notify", "NotifyAccess=all", "ExecReload=/bin/kill -HUP $MAINPID",
                   "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert needed in text.splitlines(), needed


def test_notify_ready_status_watchdog_reload_stop(spawn, tmp_path):
    ns = NotifySocket(str(tmp_path / "notify.sock"))
    try:
        srv = spawn(args=["-w", "3"], workers=3, wait=False,
                    env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "400000"})
        ready = ns.wait("READY=1", 10 * SLOW)
        # READY=1 comes once every worker accepts: all there, serving now
        assert len(srv.workers()) == 3
        assert util.healthz_ok(srv.port)
        assert "MAINPID=%d" % srv.pid in ready.splitlines()
        before = [m for m in ns.messages if "READY=1" in m.splitlines()]
        assert len(before) == 1 and "3/3 workers" not in "".join(
            ns.messages[:ns.messages.index(before[0])]), ns.messages
        # STATUS tells workers and streams
        st = util.StreamThread(srv.port, 10, 100)
        st.start()
        msg = ns.wait_match(lambda m: "1 active streams" in m, 5 * SLOW)
        assert "3/3 workers accepting" in msg, msg
        st.join(10)
        # watchdog pings at half of WATCHDOG_USEC
        ns.drain()
        n0 = sum("WATCHDOG=1" in m.splitlines() for m in ns.messages)
        time.sleep(1.0)
        ns.drain()
        n1 = sum("WATCHDOG=1" in m.splitlines() for m in ns.messages)
        assert 2 <= n1 - n0 <= 8, (n0, n1)
        # HUP: RELOADING=1 with a fresh CLOCK_MONOTONIC, then READY=1
        srv.signal(signal.SIGHUP)
        msg = ns.wait("RELOADING=1", 5 * SLOW)
        usec = [l for l in msg.splitlines() if l.startswith("MONOTONIC_USEC=")]
        assert usec, msg
        now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
        assert abs(int(usec[0].split("=")[1]) - now) < 2e6
        ns.wait("READY=1", 10 * SLOW)
        srv.signal(signal.SIGTERM)
        ns.wait("STOPPING=1", 5 * SLOW)
        assert srv.wait_exit(10 * SLOW) == 0
    finally:
        ns.close()


def test_no_watchdog_for_another_pid(spawn, tmp_path):
    ns = NotifySocket(str(tmp_path / "notify.sock"))
    try:
        spawn(args=["-w", "1"], env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "200000",
                                     "WATCHDOG_PID": "1"})
        ns.wait("READY=1", 10 * SLOW)
        time.sleep(0.5)
        ns.drain()
        assert not any("WATCHDOG=1" in m.splitlines() for m in ns.messages), ns.messages
    finally:
        ns.close()


def _activate(tmp_path, port, sock_path, args):
    if ACTIVATE is None:
        pytest.skip("systemd-socket-activate is not installed")
    err = open(str(tmp_path / "act.stderr"), "ab")
    return subprocess.Popen([ACTIVATE, "-l", "127.0.0.1:%d" % port, "-l", sock_path,
                             util.TESTBIN] + args,
                            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                            env=clean_environ(), start_new_session=True)


def _unix_get(path, target="/_test/pid"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
    r = util.read_response(s)
    s.close()
    return r


def test_socket_activation_serves_and_survives_hup(tmp_path):
    port = util.free_port()
    path = str(tmp_path / "llmfork.sock")
    p = _activate(tmp_path, port, path, ["-w", "2"])
    try:
        # systemd-socket-activate starts the server on the first connection
        util.wait_for(lambda: util.healthz_ok(port), 10 * SLOW, interval=0.1,
                      what=lambda: "serving\n" + open(str(tmp_path / "act.stderr")).read())
        assert _unix_get(path, "/healthz").status == 200
        util.wait_for(lambda: len(util.children(p.pid)) == 2, 5 * SLOW, what="2 workers")
        old = set(util.children(p.pid))
        log = open(str(tmp_path / "act.stderr")).read()
        assert "LISTEN_FDS" in log or "fd://" in log or "Listening at" in log
        os.kill(p.pid, signal.SIGHUP)
        util.wait_for(lambda: len(util.children(p.pid)) == 2
                      and not old & set(util.children(p.pid)), 10 * SLOW, what="new workers")
        for _ in range(5):
            assert util.healthz_ok(port)
            assert _unix_get(path, "/healthz").status == 200
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait(10 * SLOW) == 0
        # the socket belongs to systemd (here: its stand-in), not to us
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


@pytest.mark.skipif(os.geteuid() != 0, reason="binding a port below 1024 needs root")
def test_privileged_bind_then_workers_drop_to_nobody(spawn):
    nobody = pwd.getpwnam("nobody")
    low = None
    for port in range(900, 1000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            low = port
            break
        except OSError:
            continue
        finally:
            s.close()
    assert low is not None
    srv = spawn(args=["-w", "2", "--user", "nobody", "--group", "nogroup"],
                binds=["127.0.0.1:%d" % low], workers=2)
    assert util.healthz_ok(low)
    for w in srv.workers():
        st = open("/proc/%d/status" % w).read()
        uid = [l for l in st.splitlines() if l.startswith("Uid:")][0].split()[1:]
        gid = [l for l in st.splitlines() if l.startswith("Gid:")][0].split()[1:]
        assert uid == [str(nobody.pw_uid)] * 4, uid
        assert gid == [str(grp.getgrnam("nogroup").gr_gid)] * 4, gid
    # the master keeps its rights (a reload may bind another low port)
    assert open("/proc/%d/status" % srv.pid).read().count("Uid:\t0\t0") == 1
