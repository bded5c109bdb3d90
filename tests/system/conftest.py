"""The `spawn` fixture: starts llmfork on free loopback ports, stops it.

    srv = spawn(args=["-w", "2"], config="workers = 2\\n", env={...},
                test_build=True, workers=2)
    srv.url, srv.port, srv.pid, srv.workers(), srv.log, srv.signal(sig),
    srv.stop()

Each server runs in its own session (process group), so teardown can kill
the master and any worker it left behind with one killpg.
"""
import os
import re
import resource
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import util  # noqa: E402
from util import SLOW  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes several seconds")


# Settings the server reads from the environment; a test sets its own.
FOREIGN_ENV = ("WEB_CONCURRENCY", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID",
               "LISTEN_FDNAMES")


def clean_environ():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("LLMFORK_") and k not in FOREIGN_ENV}


# What ASan, LSan and UBSan print when they find something.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


# Runs argv[2:] as systemd would: the socket (fd argv[1]) at fd 3, with
# LISTEN_FDS=1 and LISTEN_PID set to the pid that execs the server.
SD_WRAPPER = """\
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.close(int(sys.argv[1]))
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execv(sys.argv[2], sys.argv[2:])
"""


class Server:
    def __init__(self, tmp_path, args=(), config=None, env=None,
                 test_build=True, workers=1, binds=None, nofile=None,
                 wait=True, name="srv", listen_sock=None, systemd=False):
        """wait: True = start and wait until ready, False = start only,
        None = do not start. listen_sock: an already listening socket
        handed over as fd://N, or (systemd=True) as systemd's fd 3 with
        LISTEN_FDS/LISTEN_PID, instead of a -b of our own."""
        self.tmp = tmp_path
        self.binary = util.TESTBIN if test_build else util.SHIPPED
        self.extra_args = list(args)
        self.env_extra = dict(env or {})
        self.expect_workers = workers
        self.extra_binds = list(binds or [])
        self.nofile = nofile
        self.name = name
        self.proc = None
        self.port = None
        self.config_path = None
        if config is not None:
            self.config_path = str(tmp_path / (name + ".conf"))
            self.write_config(config)
        self.log_path = str(tmp_path / (name + ".stderr"))
        self.out_path = str(tmp_path / (name + ".stdout"))
        self.wait = wait
        self.listen_sock = listen_sock
        self.systemd = systemd

    # ---- lifecycle ----
    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def argv(self):
        if self.listen_sock is None:
            a = [self.binary, "-b", "127.0.0.1:%d" % self.port]
        elif self.systemd:
            a = [sys.executable, "-c", SD_WRAPPER, str(self.listen_sock.fileno()), self.binary]
        else:
            a = [self.binary, "-b", "fd://%d" % self.listen_sock.fileno()]
        for b in self.extra_binds:
            a += ["-b", b]
        if self.config_path:
            a += ["-c", self.config_path]
        if not self._workers_set():
            a += ["-w", str(self.expect_workers)]
        return a + self.extra_args

    def _workers_set(self):
        """True when the test chose the worker count itself (any source)."""
        if {"-w", "--workers"} & set(self.extra_args):
            return True
        if {"WEB_CONCURRENCY", "LLMFORK_WORKERS"} & set(self.env_extra):
            return True
        if self.config_path:
            with open(self.config_path) as f:
                return any(l.split("=")[0].strip() == "workers" for l in f)
        return False

    def environ(self):
        env = clean_environ()
        env.update(self.env_extra)
        return env

    def _preexec(self):
        if self.nofile:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))

    def start(self, wait=True):
        for attempt in range(3):
            if self.listen_sock is None:
                self.port = util.free_port()
            else:
                self.port = self.listen_sock.getsockname()[1]
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except AssertionError:
                if self.proc.poll() is not None and "in use" in self.log and attempt < 2:
                    continue        # lost the port race; try another port
                raise
        return self

    def _spawn(self):
        out = open(self.out_path, "ab")
        err = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=self.environ(), cwd=str(self.tmp), start_new_session=True,
                pass_fds=(self.listen_sock.fileno(),) if self.listen_sock else (),
                preexec_fn=self._preexec if self.nofile else None)
        finally:
            out.close()
            err.close()

    def wait_ready(self, timeout=15 * SLOW):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("llmfork exited with %s before ready:\n%s"
                                     % (self.proc.returncode, self.log))
            if len(self.workers()) != self.expect_workers:
                return False
            try:
                return util.get(self.url + "/healthz", timeout=2).status_code == 200
            except Exception:
                return False
        util.wait_for(ready, timeout, interval=0.05,
                      what=lambda: "llmfork ready with %d workers (have %s)\n%s"
                      % (self.expect_workers, self.workers(), self.log))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @property
    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def workers(self):
        return util.children(self.pid)

    def wait_workers(self, n, timeout=10 * SLOW, exclude=()):
        """Waits until exactly n live workers exist, none in exclude."""
        ex = set(exclude)
        return util.wait_for(
            lambda: (lambda w: w if len(w) == n and not (set(w) & ex) else None)(self.workers()),
            timeout, interval=0.05,
            what=lambda: "%d workers (have %s)\n%s" % (n, self.workers(), self.log))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15 * SLOW):
        """Graceful stop (TERM); returns the exit code. Kills on timeout."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
            raise AssertionError("llmfork did not stop within %.0fs\n%s" % (timeout, self.log))
        return rc

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGINT)
            if self.wait_exit(3 * SLOW) is None:
                self.kill()
        # Workers left behind by a dead master are a bug, but never leave
        # them running after the test.
        if util.group_members(self.pid):
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def spawn(tmp_path):
    servers = []

    def make(**kw):
        kw.setdefault("name", "srv%d" % len(servers))
        srv = Server(tmp_path, **kw)
        servers.append(srv)
        if srv.wait is not None:
            srv.start(srv.wait)
        return srv

    yield make
    for s in servers:
        s.cleanup()
    reports = [s.name + ": " + line for s in servers
               for line in (s.log + s.stdout).splitlines() if SANITIZER_RE.search(line)]
    if reports:
        pytest.fail("sanitizer reports:\n" + "\n".join(reports[:20]), pytrace=False)


def run_cli(args, env=None, timeout=15 * SLOW, test_build=False, cwd=None):
    """Runs the binary to completion (for --version, --check-config ...)."""
    e = clean_environ()
    e.update(env or {})
    binary = util.TESTBIN if test_build else util.SHIPPED
    p = subprocess.Popen([binary] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError("%s %s did not exit within %ss" % (binary, args, timeout))
    finally:
        if util.group_members(p.pid):
            os.killpg(p.pid, signal.SIGKILL)
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    assert not SANITIZER_RE.search(out + err), err
    return p.returncode, out, err


@pytest.fixture
def cli():
    return run_cli
