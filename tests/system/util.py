"""Helpers for the system tests: processes, /proc, raw HTTP over sockets.

Everything here talks to loopback only and is bounded in time.
"""
import json
import os
import re
import resource
import socket
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LLMFORK_BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
SHIPPED = os.path.join(BUILD_DIR, "llmfork")
TESTBIN = os.path.join(BUILD_DIR, "llmfork-test")

# ASan/UBSan builds run everything ~2-3x slower; deadlines scale with this.
SLOW = 3.0 if "san" in os.path.basename(os.path.normpath(BUILD_DIR)) else 1.0


def wait_for(cond, timeout, interval=0.02, what="condition"):
    """Polls cond() until it returns a true value; returns it, or raises."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            if callable(what):
                what = what()
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def raise_nofile(want=20000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# ---- /proc -------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, pgrp, utime+stime ticks) or None when pid is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def children(pid):
    """Live (non-zombie) children of pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == pid and st[0] != "Z":
            out.append(int(name))
    return sorted(out)


def group_members(pgid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st and st[2] == pgid and st[0] != "Z":
                out.append(int(name))
    return out


def title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def worker_number(pid):
    m = re.match(r"llmfork: worker (\d+)\b", title(pid))
    return int(m.group(1)) if m else None


def cpu_ticks(pid):
    st = proc_stat(pid)
    return st[3] if st else None


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except FileNotFoundError:
        return 0


# ---- HTTP ------------------------------------------------------------------

def get(url, timeout=10, **kw):
    """One request on a fresh connection, ignoring any proxy settings."""
    with requests.Session() as s:
        s.trust_env = False
        headers = kw.pop("headers", {})
        headers.setdefault("Connection", "close")
        return s.get(url, timeout=timeout, headers=headers, **kw)


def healthz_ok(port, timeout=2):
    """True when GET /healthz on a fresh raw connection answers 200."""
    try:
        with connect(port, timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r = read_response(s, timeout)
        return r is not None and r.status == 200
    except OSError:
        return False


def block_worker(url, seconds=30):
    """GET /_test/block in the background: the worker's loop stops; the
    request's own fate (it dies with the worker) does not matter."""
    def run():
        try:
            get(url + "/_test/block?s=%d" % seconds, timeout=seconds + 10)
        except Exception:       # noqa: BLE001 - expected: the worker is killed
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def connect(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    return s


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def _recv_until(sock, buf, pred, deadline):
    while not pred(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("response timed out")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            return buf, True
        buf += chunk
    return buf, False


def read_response(sock, timeout=10, buf=b""):
    """Reads one HTTP/1.1 response (Content-Length, chunked or until close).
    Returns RawResponse, or None when the peer closed before any byte.
    Leftover bytes are stored on the response as .rest."""
    deadline = time.monotonic() + timeout
    buf, eof = _recv_until(sock, buf, lambda b: b"\r\n\r\n" in b, deadline)
    if b"\r\n\r\n" not in buf:
        if not buf:
            return None
        raise AssertionError("incomplete response head: %r" % buf[:200])
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        rest, _ = _recv_until(sock, rest, lambda b: len(b) >= n, deadline)
        body, rest = rest[:n], rest[n:]
    elif "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while True:
            rest, _ = _recv_until(sock, rest, lambda b: b"\r\n" in b, deadline)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            rest, _ = _recv_until(sock, rest, lambda b: len(b) >= size + 2, deadline)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
    else:
        while not eof:
            rest, eof = _recv_until(sock, rest, lambda b: False, deadline)
        body, rest = rest, b""
    r = RawResponse(status, headers, body)
    r.rest = rest
    return r


def raw_request(port, data, timeout=10, host="127.0.0.1"):
    """Sends raw bytes on a new connection, returns the first response (or
    None if the server closed without answering)."""
    with connect(port, host, timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return read_response(s, timeout)
        except ConnectionResetError:
            return None


def closed_by_peer(sock, timeout):
    """Waits up to timeout for the peer to close; returns seconds waited or
    None if still open. Data the server sends first is consumed."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return time.monotonic() - start
        if not chunk:
            return time.monotonic() - start


# ---- the test build's /_test/stream --------------------------------------

def read_stream(port, n, ms, on_line=None, timeout=30, host="127.0.0.1"):
    """GET /_test/stream on a raw socket; returns the decoded body lines
    received before the stream ended or the connection closed."""
    s = connect(port, host, timeout)
    s.sendall(b"GET /_test/stream?n=%d&ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (n, ms))
    lines, buf = [], b""
    deadline = time.monotonic() + timeout
    head_done = False
    try:
        while time.monotonic() < deadline:
            s.settimeout(deadline - time.monotonic())
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if not head_done:
                if b"\r\n\r\n" not in buf:
                    continue
                head, buf = buf.split(b"\r\n\r\n", 1)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert b"chunked" in head.lower(), head
                head_done = True
            buf, done = _take_chunks(buf, lines, on_line)
            if done:
                break
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        s.close()
    return lines


def _take_chunks(buf, lines, on_line):
    while b"\r\n" in buf:
        size_line, rest = buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if len(rest) < size + 2:
            break
        data, buf = rest[:size], rest[size + 2:]
        if size == 0:
            return buf, True
        for line in data.decode().splitlines(keepends=True):
            lines.append(line)
            if on_line:
                on_line(line)
    return buf, False


def stream_lines_ok(lines, n):
    return len(lines) == n and all(re.fullmatch(r"tick \d+\n", l) for l in lines)


class StreamThread(threading.Thread):
    """read_stream in the background; .first is set at the first line."""

    def __init__(self, port, n, ms, timeout=30):
        super().__init__(daemon=True)
        self.args_ = (port, n, ms)
        self.timeout = timeout
        self.first = threading.Event()
        self.lines = None

    def run(self):
        port, n, ms = self.args_
        self.lines = read_stream(port, n, ms, on_line=lambda l: self.first.set(),
                                 timeout=self.timeout)


def refused(port, host="127.0.0.1"):
    """True when a new TCP connection to port is refused."""
    try:
        s = socket.create_connection((host, port), timeout=1)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    s.close()
    return False
