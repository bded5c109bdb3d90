"""The servers a benchmark run starts: the mock model, the five targets,
and the targets a workload adds by name (extra_target): llmfork's
/v1/responses (translated to chat completions) and /chat/stream with
rag = postgres on a real PostgreSQL, started once for the run.

Every process is started in its own session (process group) and recorded
in a Procs; Procs.stop_all() ends exactly those groups, TERM then KILL.
Ports are picked free at run time; all traffic stays on 127.0.0.1.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
MODEL = "gpt-4o-mini"
PROMPT = [{"role": "user", "content": "Tell me a story."}]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """The processes this run started, by process group."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log, env=None, cwd=None):
        out = open(log, "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                 start_new_session=True)
        finally:
            out.close()
        self.procs.append(p)
        return p

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            self._signal(p, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Workers may outlive a master that exited: end the whole group.
        self._signal(p, signal.SIGKILL)
        p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p, grace=2.0)

    @staticmethod
    def _signal(p, sig):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass


def children(pid):
    """Pids whose parent is pid (the workers of a master)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(name))
    return kids


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pids):
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def wait_port_file(path, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} at startup")
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            time.sleep(0.02)
    raise RuntimeError("no port file")


def probe(port, path, body, proc, timeout=15.0):
    """Waits until one real request through the target answers 200."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} at startup")
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=body, method="POST",
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"no 200 from {path}: {last}")


class Mock:
    def __init__(self, procs, bindir, tmp, tokens, delay_ms):
        pf = os.path.join(tmp, "mock.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.proc = procs.start(
            [os.path.join(bindir, "llmfork-mock"), "--port-file", pf,
             "--tokens", str(tokens), "--delay-ms", str(delay_ms)],
            os.path.join(tmp, "mock.log"))
        self.port = wait_port_file(pf, self.proc)


def body_openai(stream):
    return {"model": MODEL, "stream": stream, "messages": PROMPT}


def body_chat(stream):
    return {"messages": PROMPT}


class Target:
    """One server under test. workers() gives the pids whose RSS counts.
    settle: (warm-up, window) seconds at least, for a target whose
    streams take seconds at the row's load."""
    name = ""
    body = staticmethod(body_openai)
    settle = None

    def path(self, stream):
        return "/v1/chat/completions"

    def start(self, procs, ctx, mock_port):
        raise NotImplementedError

    def workers(self):
        return children(self.proc.pid)


class MockDirect(Target):
    name = "mock"
    label = "mock direct"

    def start(self, procs, ctx, mock_port):
        self.proc = ctx["mock"].proc
        return mock_port

    def workers(self):
        return [self.proc.pid]


NGINX_CONF = """\
worker_processes 2;
worker_rlimit_nofile {nofile};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{
    worker_connections {nofile};
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream mock {{
        server 127.0.0.1:{mock};
        keepalive 10000;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


class Nginx(Target):
    name = "nginx"
    label = "nginx proxy_pass"

    def start(self, procs, ctx, mock_port):
        port, tmp = free_port(), ctx["tmp"]
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, mock=mock_port, port=port,
                                      nofile=ctx["nofile"]))
        self.proc = procs.start(
            ["nginx", "-p", tmp, "-c", conf, "-e", f"{tmp}/nginx-error.log"],
            os.path.join(tmp, "nginx.log"))
        return port


class Llmfork(Target):
    def __init__(self, name, label, path_stream, path_whole, body,
                 bindir="bin", env=None):
        self.name, self.label = name, label
        self.paths = (path_stream, path_whole)
        self.body = body
        self.bindir = bindir    # ctx key: "bin", or "bin_b" for --compare
        self.env = env or {}    # settings of this target's own

    def path(self, stream):
        return self.paths[0 if stream else 1]

    def settings(self, ctx):
        return self.env

    def start(self, procs, ctx, mock_port):
        port = free_port()
        env = dict(os.environ, LLMFORK_PROVIDER="openai",
                   OPENAI_BASE_URL=f"http://127.0.0.1:{mock_port}/v1",
                   OPENAI_API_KEY="x", OPENAI_MODEL=MODEL)
        env.pop("LLMFORK_CONFIG", None)
        env.update(self.settings(ctx))
        # Keep-alive as long as nginx's and the peer's (75 s): at 10,000
        # streams the load tool runs seconds behind, and with llmfork's
        # 5 s default it sometimes sent its next request on a connection
        # the server had just closed as idle (a reset; --keep-alive 1 made
        # 349 of them in one row).
        self.proc = procs.start(
            [os.path.join(ctx[self.bindir], "llmfork"), "-w", "2", "-b",
             f"127.0.0.1:{port}", "--backlog", "4096", "--keep-alive", "75"],
            os.path.join(ctx["tmp"], f"{self.name}.log"), env=env)
        return port


class Peer(Target):
    name = "peer"
    label = "FastAPI+gunicorn"
    body = staticmethod(body_chat)
    # At 1,000 connections its streams take 3-4 s: the rows' 2 s warm-up
    # ended inside its first wave, and one row read 180/s, the next 342.
    # Two of its streams' length of warm-up there, as the long rows have
    # (at 200 its streams take 0.6 s).
    settle = (8, 6)

    def path(self, stream):
        return "/chat/stream" if stream else "/chat"

    def start(self, procs, ctx, mock_port):
        port = free_port()
        peers = os.path.join(HERE, "peers")
        env = dict(os.environ, OPENAI_BASE_URL=f"http://127.0.0.1:{mock_port}/v1",
                   OPENAI_API_KEY="x", OPENAI_MODEL=MODEL)
        self.proc = procs.start(
            [PYTHON, "-m", "gunicorn", "-c",
             os.path.join(peers, "gunicorn.conf.py"), "--chdir", peers,
             "-b", f"127.0.0.1:{port}", "chat_app:app"],
            os.path.join(ctx["tmp"], "peer.log"), env=env)
        return port


def llmfork_targets(suffix="", label="", bindir="bin"):
    return [
        Llmfork("v1" + suffix, "llmfork /v1" + label, "/v1/chat/completions",
                "/v1/chat/completions", body_openai, bindir),
        Llmfork("stream" + suffix, "llmfork /chat/stream" + label,
                "/chat/stream", "/chat", body_chat, bindir),
    ]


def body_responses(stream):
    return {"model": MODEL, "stream": stream, "input": PROMPT[0]["content"]}


# A question the catalogue (tests/data/catalogue.json) answers, so the
# search step finds rows and the prompt carries them, as in use.
RAG_QUESTION = "Which hiking boots are waterproof?"


def body_rag(stream):
    return {"messages": [{"role": "user", "content": RAG_QUESTION}],
            "context": {"overrides": {"retrieval_mode": "text"}}}


class RagPostgres(Llmfork):
    """/chat/stream with rag = postgres, text retrieval (Debian has no
    pgvector), on a real PostgreSQL: tests/system/pgtest.py's (initdb in
    a temp directory, a unix socket only), seeded with the catalogue by
    scripts/seed-postgres. The database starts with the first row that
    needs it and stays up until stop_services()."""

    def __init__(self):
        super().__init__("rag-pg", "llmfork /chat/stream rag=postgres",
                         "/chat/stream", "/chat", body_rag)

    def settings(self, ctx):
        if "postgres" not in ctx:
            sys.path.insert(0, os.path.join(HERE, "..", "..", "tests",
                                            "system"))
            from pgtest import Postgres, pg_bin
            if pg_bin() is None:
                raise RuntimeError("no PostgreSQL (scripts/install-deps)")
            try:
                ctx["postgres"] = Postgres()
                ctx["postgres"].seed()
            except (AssertionError, subprocess.SubprocessError) as e:
                raise RuntimeError(f"PostgreSQL: {e}") from e
        return dict(ctx["postgres"].env(), LLMFORK_RAG="postgres")


EXTRA = {
    "responses": lambda: Llmfork(
        "responses", "llmfork /v1/responses", "/v1/responses",
        "/v1/responses", body_responses,
        env={"LLMFORK_RESPONSES_UPSTREAM": "chat"}),
    "rag-pg": RagPostgres,
}


def extra_target(name):
    """A target only the workloads that name it run (wl["extra"])."""
    return EXTRA[name]()


def stop_services(ctx):
    """Ends what the targets started for the whole run (the database)."""
    db = ctx.pop("postgres", None)
    if db:
        db.stop()


def all_targets(compare=False):
    """The five targets; with compare, the other build's two llmfork
    targets (v1-b, stream-b) run right after this build's."""
    b = llmfork_targets("-b", " (B)", "bin_b") if compare else []
    return [MockDirect(), Nginx()] + llmfork_targets() + b + [Peer()]


if __name__ == "__main__":
    sys.exit("targets.py is a module of scripts/bench/run")
