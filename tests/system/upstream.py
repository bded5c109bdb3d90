"""Helpers for the issue-4 system tests: the mock upstream (build/llmfork-mock)
on a free port, llmfork configured against it, and raw-socket clients that
record when each chunk arrived.

    mock = Mock(tmp_path)                      # or the `mock` fixture
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\\n")
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=5)))
    r.status, r.headers, r.body, r.chunks [(t, bytes)], r.complete

The mock is steered through llmfork with a directive in the last user
message ("[mock tokens=5 fault=429]", see tests/mock/mock.c), since llmfork
forwards neither client headers nor the query string.
"""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import util
from util import SLOW

MOCK = os.path.join(util.BUILD_DIR, "llmfork-mock")
KEY = "sk-upstream-secret-4242"
MODEL = "gpt-test"
DEPLOYMENT = "chat-dep"


class Mock:
    def __init__(self, tmp_path, *args, name="mock", keys=(KEY,)):
        """keys: the API keys it accepts; none: no auth."""
        port_file = tmp_path / (name + ".port")
        self.log_path = tmp_path / (name + ".log")
        key_args = [a for k in keys for a in ("--key", k)]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([MOCK, "--port-file", str(port_file),
                                          *key_args, *args],
                                         stdin=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)
        util.wait_for(lambda: port_file.exists() or self.proc.poll() is not None,
                      10 * SLOW, what="the mock's port file")
        assert self.proc.poll() is None, self.log
        self.port = int(port_file.read_text())
        self.url = "http://127.0.0.1:%d" % self.port

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def get(self, path):
        return util.get(self.url + path).json()

    def stats(self):
        return self.get("/_mock/stats")

    def requests(self):
        return self.get("/_mock/requests")

    def last(self):
        return self.stats()["last_request"]

    def answer(self, tokens):
        return self.get("/_mock/answer?tokens=%d" % tokens)["content"]

    def reset(self):
        with util.requests.Session() as s:
            s.trust_env = False
            s.post(self.url + "/_mock/reset", timeout=10)

    def wait_stat(self, key, value, timeout=5 * SLOW):
        """Waits until stats()[key] >= value; returns the seconds it took."""
        start = time.monotonic()
        util.wait_for(lambda: self.stats()[key] >= value, timeout, interval=0.005,
                      what=lambda: "mock %s >= %s: %s" % (key, value, self.stats()))
        return time.monotonic() - start

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def mock(tmp_path):
    m = Mock(tmp_path)
    yield m
    rc = m.stop()
    log = m.log
    assert "Sanitizer" not in log and "runtime error" not in log, log
    assert rc == 0, log


# ---- llmfork in front of the mock ------------------------------------------

def provider_env(mock, provider):
    """The environment names the Azure samples / OpenAI SDKs use."""
    if provider == "openai":
        return {"LLMFORK_PROVIDER": "openai", "OPENAI_BASE_URL": mock.url + "/v1",
                "OPENAI_API_KEY": KEY, "OPENAI_MODEL": MODEL}
    if provider in ("azure", "azure-v1"):
        return {"LLMFORK_PROVIDER": provider, "AZURE_OPENAI_ENDPOINT": mock.url + "/",
                "AZURE_OPENAI_CHAT_DEPLOYMENT": DEPLOYMENT,
                "AZURE_OPENAI_API_KEY": KEY}
    return {"LLMFORK_PROVIDER": provider}


def serve(spawn, mock, provider="openai", conf="", env=None, workers=1, **kw):
    """Starts the shipped build/llmfork with -w workers against mock."""
    e = provider_env(mock, provider) if mock else {"LLMFORK_PROVIDER": provider}
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}     # None: unset it
    config = "workers = %d\n%s" % (workers, conf)
    return spawn(config=config, env=e, test_build=False, workers=workers, **kw)


# ---- requests -----------------------------------------------------------------

def say(text="hi", **ctl):
    """A user message content carrying a mock directive."""
    if not ctl:
        return text
    return "%s [mock %s]" % (text, " ".join("%s=%s" % kv for kv in ctl.items()))


def chat_body(content="hi", **extra):
    return dict({"messages": [{"role": "user", "content": content}]}, **extra)


def oai_body(content="hi", stream=True, **extra):
    return dict({"model": "whatever", "stream": stream,
                 "messages": [{"role": "user", "content": content}]}, **extra)


class Reply:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.chunks = []        # (monotonic time, data) per HTTP chunk
        self.body = b""
        self.complete = False   # Content-Length reached or chunked 0 seen
        self.eof = False
        self.t0 = None

    @property
    def lines(self):
        return self.body.decode().splitlines(keepends=True)

    def ndjson(self):
        assert all(l.endswith("\n") for l in self.lines), self.body
        return [json.loads(l) for l in self.lines]

    def json(self):
        return json.loads(self.body)


def request_bytes(method, path, body=None, headers=None, ctype="application/json"):
    data = b"" if body is None else (body if isinstance(body, bytes)
                                     else json.dumps(body).encode())
    h = {"Host": "127.0.0.1", "Connection": "close"}
    if body is not None:
        h["Content-Type"] = ctype
        h["Content-Length"] = str(len(data))
    h.update(headers or {})
    head = "%s %s HTTP/1.1\r\n%s\r\n" % (
        method, path, "".join("%s: %s\r\n" % kv for kv in h.items() if kv[1] is not None))
    return head.encode() + data


def open_request(port, method, path, body=None, headers=None, **kw):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request_bytes(method, path, body, headers, **kw))
    return s


def read_reply(sock, timeout=20 * SLOW, stop=None):
    """Reads one response, keeping each chunk's arrival time. stop(reply)
    returning true ends the read early (the socket stays open)."""
    r = Reply()
    r.t0 = time.monotonic()
    deadline = r.t0 + timeout
    buf = b""

    def more():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("reply timed out; so far %r" % (buf[:300] or r.body[-300:]))
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            r.eof = True
        return d

    while b"\r\n\r\n" not in buf:
        d = more()
        if not d:
            return r
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    r.status = int(lines[0].split()[1])
    for line in lines[1:]:
        k, _, v = line.partition(":")
        r.headers[k.strip().lower()] = v.strip()
    if r.status in (204, 304):          # no body, whatever the headers
        r.complete = True
        return r
    if "chunked" in r.headers.get("transfer-encoding", ""):
        while True:
            while b"\r\n" not in buf:
                d = more()
                if not d:
                    return r
                buf += d
            size = int(buf.split(b"\r\n", 1)[0].split(b";")[0], 16)
            need = buf.index(b"\r\n") + 2 + size + 2
            while len(buf) < need:
                d = more()
                if not d:
                    return r
                buf += d
            data = buf[need - size - 2:need - 2]
            buf = buf[need:]
            if size == 0:
                r.complete = True
                return r
            r.chunks.append((time.monotonic(), data))
            r.body += data
            if stop and stop(r):
                return r
    n = int(r.headers.get("content-length", "-1"))
    while n < 0 or len(buf) < n:
        d = more()
        if not d:
            break
        buf += d
    r.body = buf if n < 0 else buf[:n]
    r.complete = n >= 0 and len(r.body) == n
    return r


def post(port, path, body, headers=None, timeout=20 * SLOW, **kw):
    with open_request(port, "POST", path, body, headers, **kw) as s:
        return read_reply(s, timeout)


def get(port, path, headers=None, timeout=10 * SLOW):
    with open_request(port, "GET", path, None, headers) as s:
        return read_reply(s, timeout)


def sse_events(body):
    """The data payloads of a whole SSE body (asserts data-only framing)."""
    text = body.decode()
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for ev in text[:-2].split("\n\n"):
        assert ev.startswith("data: ") and "\n" not in ev, ev
        out.append(ev[6:])
    return out


def normalise_ids(body):
    """Blanks what differs between two runs of the same request."""
    body = re.sub(rb'"id":"chatcmpl-mock[0-9a-f]*"', b'"id":"X"', body)
    return re.sub(rb'"created":\d+', b'"created":0', body)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- TLS in front of the mock ----------------------------------------------------

def make_cert(tmp_path, name="tls"):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    cert, key = tmp_path / (name + ".crt"), tmp_path / (name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


class TlsFront:
    """Terminates TLS on a free port and pipes each connection to the mock
    (HTTP/1.1 only: ALPN offers nothing else)."""

    def __init__(self, mock, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.mock = mock
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.handshakes_failed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            t = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            c.close()
            return
        t.settimeout(None)
        up = socket.create_connection(("127.0.0.1", self.mock.port))

        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pipe, args=(up, t), daemon=True).start()
        pipe(t, up)

    def close(self):
        self.sock.close()
