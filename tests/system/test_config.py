"""Command line, config file, precedence, binds, pid file, process titles."""
import http.client
import os
import re
import socket
import stat
import subprocess
import time

import pytest

import util
from util import SLOW


def test_version_and_help(cli):
    rc, out, err = cli(["--version"])
    assert rc == 0, err
    assert re.search(r"llmfork\S* \d+\.\d+", out + err), out + err
    rc, out, err = cli(["--help"])
    assert rc == 0, err
    text = out + err
    for opt in ("-b", "-w", "--timeout", "--graceful-timeout", "--max-requests",
                "--check-config", "--pid", "--access-logfile"):
        assert opt in text, "--help does not mention %s:\n%s" % (opt, text)


GOOD = """\
# every kind of value once
bind = 127.0.0.1:%d
workers = 2
timeout = 30
graceful_timeout = 5
keepalive = 2
max_requests = 1000
max_requests_jitter = 50
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
limit_request_body = 1048576
worker_connections = 1000
unix_socket_mode = 0660
loglevel = info
"""


def test_check_config_good(cli, tmp_path):
    conf = tmp_path / "good.conf"
    conf.write_text(GOOD % util.free_port())
    rc, out, err = cli(["--check-config", "-c", str(conf)])
    assert rc == 0, out + err


# Four problems of four kinds, each on a known line, and good lines between.
BAD = """\
workers = 2
no_such_key = 1
timeout = abc
graceful_timeout = -3
bind = 127.0.0.1:99999
keepalive = 2
"""
BAD_LINES = {2: ("no_such_key",), 3: ("timeout", "abc"),
             4: ("graceful_timeout", "-3"), 5: ("bind", "99999")}


def check_bad_messages(text, path):
    lines = [l for l in text.splitlines() if l.startswith(path + ":")]
    for n, words in BAD_LINES.items():
        hit = [l for l in lines if l.startswith("%s:%d:" % (path, n))]
        assert hit, "no %s:%d: message in:\n%s" % (path, n, text)
        # The message names the key or the value it complains about.
        assert any(w in l[len(path):] for l in hit for w in words), hit
    assert not [l for l in lines if re.match(re.escape(path) + r":(1|6):", l)], text
    return sorted(l for l in lines if re.match(re.escape(path) + r":[2-5]:", l))


def test_check_config_reports_every_problem(cli, spawn, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(BAD)
    rc, out, err = cli(["--check-config", "-c", str(conf)])
    assert rc == 2, (rc, out, err)
    checked = check_bad_messages(out + err, str(conf))
    assert "no_such_key" in "\n".join(checked)

    # The server refuses to start on the same file, with the same messages.
    rc, out, err = cli(["-c", str(conf), "-b", "127.0.0.1:%d" % util.free_port()])
    assert rc == 2, (rc, out, err)
    assert check_bad_messages(out + err, str(conf)) == checked


def test_check_config_bad_bind_on_command_line(cli):
    rc, out, err = cli(["--check-config", "-b", "not-an-address:http"])
    assert rc == 2, (rc, out, err)
    assert "not-an-address" in out + err or "command line" in out + err


@pytest.mark.parametrize("config,env,args,expect", [
    ("workers = 2\n", {}, [], 2),                                  # file
    ("workers = 1\n", {"WEB_CONCURRENCY": "3"}, [], 3),             # env > file
    ("workers = 1\n", {"LLMFORK_WORKERS": "2"}, [], 2),            # env > file
    ("workers = 3\n", {"LLMFORK_WORKERS": "3"}, ["-w", "1"], 1),   # cli > env
    (None, {"WEB_CONCURRENCY": "2"}, ["--workers", "1"], 1),       # long name
], ids=["file", "web_concurrency", "llmfork_workers", "cli", "cli-long"])
def test_worker_count_precedence(spawn, config, env, args, expect):
    srv = spawn(config=config, env=env, args=args, workers=expect)
    time.sleep(0.3)          # would a surplus worker appear?
    assert len(srv.workers()) == expect


@pytest.mark.parametrize("how", ["file", "cli"])
def test_workers_auto(spawn, how):
    n = os.cpu_count()
    if how == "file":
        srv = spawn(config="workers = auto\n", workers=n)
    else:
        srv = spawn(args=["-w", "auto"], workers=n)
    time.sleep(0.3)
    assert len(srv.workers()) == n


def _blocked_worker_killed(srv, within):
    """Blocks the only worker's loop; returns True if the master replaced it
    within `within` seconds."""
    old = srv.workers()
    assert len(old) == 1
    util.block_worker(srv.url)
    try:
        util.wait_for(lambda: set(srv.workers()) - set(old), within, interval=0.1)
        return True
    except AssertionError:
        return False


@pytest.mark.slow
def test_timeout_env_beats_file(spawn):
    srv = spawn(config="timeout = 60\n", env={"LLMFORK_TIMEOUT": "2"})
    assert _blocked_worker_killed(srv, 10 * SLOW), srv.log


@pytest.mark.slow
def test_timeout_cli_beats_env_and_file(spawn):
    srv = spawn(config="timeout = 2\n", env={"LLMFORK_TIMEOUT": "2"},
                args=["--timeout", "60"])
    # With timeout 2 the worker would be gone within ~3-4 s.
    assert not _blocked_worker_killed(srv, 5 + SLOW), srv.log


def test_repeated_binds_and_ipv6(spawn):
    p2 = util.free_port()
    p6 = util.free_port(socket.AF_INET6, "::1")
    srv = spawn(binds=["127.0.0.1:%d" % p2, "[::1]:%d" % p6])
    assert util.get(srv.url + "/healthz").status_code == 200
    assert util.get("http://127.0.0.1:%d/healthz" % p2).status_code == 200
    assert util.get("http://[::1]:%d/healthz" % p6).status_code == 200


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


@pytest.mark.parametrize("mode", [0o600, 0o666])
def test_unix_socket(spawn, tmp_path, mode):
    path = str(tmp_path / "ll.sock")
    srv = spawn(binds=["unix:" + path], config="unix_socket_mode = 0%o\n" % mode)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == mode, oct(st.st_mode)
    c = UnixHTTPConnection(path)
    c.request("GET", "/healthz")
    r = c.getresponse()
    assert r.status == 200
    assert r.read()
    c.close()
    assert srv.stop() == 0
    assert not os.path.exists(path), "unix socket left behind after exit"


def test_pidfile_written_and_removed(spawn, tmp_path):
    pidfile = tmp_path / "ll.pid"
    srv = spawn(args=["--pid", str(pidfile)])
    assert int(pidfile.read_text().strip()) == srv.pid
    assert srv.stop() == 0
    assert not pidfile.exists()


def test_a_pid_file_in_use_is_refused_and_a_stale_one_replaced(spawn, cli, tmp_path):
    """Gunicorn's rule: a second master on the same pid file refuses to
    start (taking the file over, it would delete it on its way out and
    leave the first master without one); a crashed master's is replaced."""
    pidfile = tmp_path / "ll.pid"
    srv = spawn(args=["--pid", str(pidfile)])
    rc, out, err = cli(["--pid", str(pidfile), "-b", "127.0.0.1:0", "-w", "1"])
    assert rc != 0, (rc, out, err)
    assert "already running on pid %d" % srv.pid in out + err, out + err
    assert int(pidfile.read_text()) == srv.pid
    assert srv.stop() == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile.write_text("%d\n" % dead.pid)
    srv = spawn(args=["--pid", str(pidfile)])
    assert int(pidfile.read_text()) == srv.pid
    assert srv.stop() == 0


def test_process_titles(spawn):
    srv = spawn(args=["-w", "3"], workers=3)
    assert util.title(srv.pid).startswith("llmfork: master"), util.title(srv.pid)
    nums = util.wait_for(
        lambda: (lambda n: sorted(n) if None not in n else None)(
            [util.worker_number(p) for p in srv.workers()]),
        5 * SLOW, what="worker titles")
    assert nums == [1, 2, 3], [util.title(p) for p in srv.workers()]


def test_environment_and_command_line_errors(cli):
    port = util.free_port()
    rc, out, err = cli(["--check-config", "-b", "127.0.0.1:%d" % port],
                       env={"LLMFORK_TIMEOUT": "soon", "LLMFORK_KEEPALIVE": "-1"})
    assert rc == 2, (rc, out, err)
    text = out + err
    assert re.search(r"^environment LLMFORK_TIMEOUT: .+", text, re.M), text
    assert re.search(r"^environment LLMFORK_KEEPALIVE: .+", text, re.M), text
    rc, out, err = cli(["--check-config", "-b", "127.0.0.1:%d" % port, "--timeout", "soon"])
    assert rc == 2, (rc, out, err)
    assert re.search(r"^command line: .*timeout", out + err, re.M), out + err
    rc, out, err = cli(["--check-config", "--no-such-option"])
    assert rc == 2, (rc, out, err)
    assert "no-such-option" in out + err


def test_an_option_is_not_taken_as_a_value(cli, tmp_path):
    """`--pid --check-config` is a missing value (argparse's rule), not a
    pid file named --check-config and a server started for real."""
    rc, out, err = cli(["--pid", "--check-config", "-b", "127.0.0.1:0"], cwd=tmp_path)
    assert rc == 2, (rc, out, err)
    assert re.search(r"^command line: --pid: needs a value", out + err, re.M), out + err
    assert not (tmp_path / "--check-config").exists()
    rc, out, err = cli(["--check-config", "--pid=--odd", "-b", "127.0.0.1:0"])
    assert rc == 0, (rc, out, err)      # an = takes any value


def _listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


@pytest.mark.parametrize("systemd", [False, True], ids=["fd-N", "LISTEN_FDS"])
def test_inherited_listening_socket(spawn, systemd):
    with _listening_socket() as sock:
        srv = spawn(listen_sock=sock, systemd=systemd, args=["-w", "2"], workers=2)
        for _ in range(4):
            assert util.get(srv.url + "/healthz").status_code == 200
        assert util.title(srv.pid).startswith("llmfork: master")
        assert srv.stop() == 0
