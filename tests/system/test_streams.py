"""Streams under pressure: a client that leaves cancels the upstream call
(checked on the mock's cancelled count), a client that stops reading
pauses it (worker memory stays bounded, other streams keep flowing), and
1,000 concurrent streams on one worker all complete with the right words.
"""
import asyncio
import json
import os
import socket
import struct
import threading
import time

import pytest

import util
from rawup import RawUpstream, chunked, head
from upstream import (chat_body, mock, oai_body, open_request, post,  # noqa: F401
                      read_reply, request_bytes, rss_kb, say, serve)
from util import SLOW

# What the disconnect tests measured (seconds from close to the mock's
# cancel), printed at the end with -s.
CANCEL_TIMES = []


@pytest.fixture
def srv(spawn, mock):
    return serve(spawn, mock, "openai")


def wait_upstream_active(mock):
    util.wait_for(lambda: mock.stats()["active"] >= 1, 10 * SLOW,
                  what=lambda: "the upstream request: %s" % mock.stats())


def measure_cancel(mock, sock, label):
    before = mock.stats()["cancelled"]
    t0 = time.monotonic()
    sock.close()
    util.wait_for(lambda: mock.stats()["cancelled"] > before, 3 * SLOW, interval=0.002,
                  what=lambda: "%s: upstream cancel %s" % (label, mock.stats()))
    took = time.monotonic() - t0
    CANCEL_TIMES.append((label, took))
    print("\n%s: upstream cancelled %.0f ms after the client closed" % (label, took * 1000))
    assert took < 1.0 * SLOW, took
    util.wait_for(lambda: mock.stats()["active"] == 0, 3 * SLOW, what="no active upstream")
    return took


CASES = [
    ("/chat/stream", lambda c: chat_body(c)),
    ("/chat", lambda c: chat_body(c)),
    ("/v1/chat/completions", lambda c: oai_body(c, stream=True)),
    ("/v1/chat/completions", lambda c: oai_body(c, stream=False)),
]


@pytest.mark.parametrize("path, body", CASES, ids=["chat-stream", "chat", "gw-stream", "gw"])
def test_close_while_waiting_for_first_token(srv, mock, path, body):
    s = open_request(srv.port, "POST", path, body(say("hi", ttft_ms=20000)))
    wait_upstream_active(mock)
    time.sleep(0.1)
    measure_cancel(mock, s, "first-token " + path)
    assert mock.stats()["completed"] == 0


@pytest.mark.parametrize("path, body", CASES[::2], ids=["chat-stream", "gw-stream"])
def test_close_mid_stream(srv, mock, path, body):
    s = open_request(srv.port, "POST", path, body(say("hi", tokens=2000, delay_ms=10)))
    r = read_reply(s, stop=lambda r: r.body.count(b'"content"') >= 5)
    assert r.status == 200 and not r.complete
    measure_cancel(mock, s, "mid-stream " + path)
    assert mock.stats()["completed"] == 0


def test_close_with_reset_mid_stream(srv, mock):
    s = open_request(srv.port, "POST", "/chat/stream",
                     chat_body(say("hi", tokens=2000, delay_ms=10)))
    read_reply(s, stop=lambda r: r.body.count(b'"content"') >= 3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    measure_cancel(mock, s, "reset mid-stream")


def test_worker_keeps_serving_after_cancels(srv, mock):
    for _ in range(5):
        s = open_request(srv.port, "POST", "/chat/stream", chat_body(say("hi", ttft_ms=5000)))
        wait_upstream_active(mock)
        s.close()
        util.wait_for(lambda: mock.stats()["active"] == 0, 3 * SLOW, what="cancel")
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=4)))
    assert r.complete
    assert "".join(l["delta"]["content"] for l in r.ndjson()[1:]) == mock.answer(4)


def data_segments_in(sock):
    """Linux's tcp_info.tcpi_data_segs_in: segments with data received."""
    return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256),
                              152)[0]


class HeadThenToken:
    """An upstream that answers with its head and first two events (role,
    first token) in one send, the rest 1 s later: what a model does when
    its first token is ready as the head goes out."""
    EVENT = ('data: {"id":"c1","object":"chat.completion.chunk","created":1,'
             '"model":"m","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}\n\n')

    def __init__(self):
        self.ls = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.ls.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def chunk(text):
        return b"%x\r\n%s\r\n" % (len(text), text.encode())

    def _serve(self):
        c, _ = self.ls.accept()
        req = b""
        while b"\r\n\r\n" not in req:
            req += c.recv(65536)
        head, body = req.split(b"\r\n\r\n", 1)
        length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")][0])
        while len(body) < length:
            body += c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" +
                  self.chunk(self.EVENT % ('{"role":"assistant","content":""}', "null") +
                             self.EVENT % ('{"content":"Hello!"}', "null")))
        time.sleep(1)
        try:
            c.sendall(self.chunk(self.EVENT % ('{"content":" Bye."}', "null") +
                                 self.EVENT % ("{}", '"stop"') + "data: [DONE]\n\n") +
                      b"0\r\n\r\n")
        except OSError:
            pass
        c.close()


def data_segments_in(sock):
    """Linux's tcp_info.tcpi_data_segs_in: segments with data received."""
    return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256),
                              152)[0]


@pytest.mark.parametrize("path", ["/chat/stream", "/v1/chat/completions"])
def test_head_and_first_token_share_a_segment(spawn, path):
    """What one upstream read brings goes out in one write: the head, the
    first token (and /chat/stream's role line) reach the client in one
    segment, not a packet per piece."""
    up = HeadThenToken()
    srv = serve(spawn, up, "openai")
    body = (chat_body if path == "/chat/stream" else oai_body)("hi")
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(request_bytes("POST", path, body))
    s.settimeout(10 * SLOW)
    first = s.recv(65536)
    time.sleep(0.3)
    segs = data_segments_in(s)
    s.close()
    assert first.startswith(b"HTTP/1.1 200"), first
    assert b"Hello!" in first and b"Bye." not in first, first
    assert segs == 1, (segs, first)


# ---- backpressure -----------------------------------------------------------

def read_all(sock, timeout):
    sock.settimeout(timeout)
    out = []
    while True:
        d = sock.recv(1 << 20)
        if not d:
            return b"".join(out)
        out.append(d)


def dechunk(raw):
    head, body = raw.split(b"\r\n\r\n", 1)
    out, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        if size == 0:
            return head, b"".join(out), True
        out.append(body[eol + 2:eol + 2 + size])
        pos = eol + 2 + size + 2
        if pos > len(body):
            return head, b"".join(out), False


@pytest.mark.parametrize("path", ["/chat/stream", "/v1/chat/completions"])
def test_slow_reader_is_paused_and_memory_bounded(spawn, mock, path):
    tokens = 200000         # ~10 MB of NDJSON, ~50 MB of upstream SSE
    # ASan keeps freed memory in quarantine; keep that small so RSS
    # measures what the worker holds.
    asan = os.environ.get("ASAN_OPTIONS", "")
    srv = serve(spawn, mock, "openai", conf="stream_buffer = 65536\n",
                env={"ASAN_OPTIONS": asan + ":quarantine_size_mb=1"})
    worker = srv.workers()[0]
    body = (chat_body if path == "/chat/stream" else oai_body)(
        say("hi", tokens=tokens, delay_ms=0))
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    # A real network's MSS. With loopback's (65,483) and this small buffer
    # the client's window ends up below the MSS the sender allows itself,
    # and only the persist timer moves data: nginx in front of the mock
    # stalls the same way (5 of 6 runs > 50 s; 6 of 6 in ~1.5 s with this).
    slow.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
    slow.connect(("127.0.0.1", srv.port))
    rss0 = rss_kb(worker)
    slow.sendall(request_bytes("POST", path, body))
    slow.settimeout(10)
    first = slow.recv(4096)                     # the head, then stop reading
    assert first.startswith(b"HTTP/1.1 200"), first

    # Meanwhile other clients' streams complete, and memory stays flat.
    peak = rss0
    for _ in range(3):
        r = post(srv.port, "/chat/stream", chat_body(say("other", tokens=10, delay_ms=5)))
        assert r.complete
        assert "".join(l["delta"]["content"] for l in r.ndjson()[1:]) == mock.answer(10)
        peak = max(peak, rss_kb(worker))
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        peak = max(peak, rss_kb(worker))
        time.sleep(0.05)
    st = mock.stats()
    print("\nslow reader %s: worker RSS %d kB -> peak %d kB (+%d kB); mock %s"
          % (path, rss0, peak, peak - rss0, {k: st[k] for k in ("active", "completed")}))
    # Unpaused, the whole answer would be generated in ~1.5 s and held.
    assert st["active"] == 1 and st["completed"] == 3, st
    assert peak - rss0 < 6 * 1024 * SLOW, (rss0, peak)     # seen: < 0.5 MB

    raw = first + read_all(slow, 60 * SLOW)
    slow.close()
    head, data, complete = dechunk(raw)
    assert complete, raw[-200:]
    assert data.endswith(b"\n")
    assert stream_text(path, data) == mock.answer(tokens)
    util.wait_for(lambda: mock.stats()["completed"] == 4, 5 * SLOW, what="completed")


# ---- many streams at once ---------------------------------------------------

async def one_stream(port, body):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(body)
    await w.drain()
    data = await r.read()
    w.close()
    return data


async def many(port, n, body):
    return await asyncio.gather(*(one_stream(port, body) for _ in range(n)),
                                return_exceptions=True)


def stream_text(path, data):
    if path == "/chat/stream":
        return "".join(json.loads(l)["delta"]["content"]
                       for l in data.decode().splitlines()[1:])
    evs = data.decode().split("\n\n")
    assert evs[-2:] == ["data: [DONE]", ""], evs[-3:]
    return "".join(json.loads(e[6:])["choices"][0]["delta"].get("content", "")
                   for e in evs[:-2] if '"choices":[{' in e)


@pytest.mark.parametrize("path", ["/chat/stream", "/v1/chat/completions"])
def test_1000_concurrent_streams_on_one_worker(spawn, mock, path):
    n, tokens = 1000, 20
    util.raise_nofile(8192)
    srv = serve(spawn, mock, "openai", nofile=8192)
    body = (chat_body if path == "/chat/stream" else oai_body)(
        say("hi", tokens=tokens, delay_ms=50))
    req = request_bytes("POST", path, body)
    answer = mock.answer(tokens)
    t0 = time.monotonic()
    results = [None]

    def run():
        results[0] = asyncio.run(asyncio.wait_for(many(srv.port, n, req), 90 * SLOW))
    th = threading.Thread(target=run, daemon=True)
    th.start()
    # While they run: all of them are open upstream at the same time.
    peak = 0
    while th.is_alive() and time.monotonic() - t0 < 100 * SLOW:
        peak = max(peak, mock.stats()["active"])
        time.sleep(0.05)
    th.join(5)
    took = time.monotonic() - t0
    assert results[0] is not None, "clients did not finish"
    bad = []
    for raw in results[0]:
        if isinstance(raw, Exception):
            bad.append(repr(raw))
            continue
        try:
            head, data, complete = dechunk(raw)
            ok = head.startswith(b"HTTP/1.1 200") and complete and \
                stream_text(path, data) == answer
        except (ValueError, AssertionError, KeyError, IndexError):
            ok = False
        if not ok:
            bad.append(raw[:200])
    print("\n1000 streams on %s: %.1f s, peak %d upstream streams at once"
          % (path, took, peak))
    assert not bad, "%d of %d failed, e.g. %r" % (len(bad), n, bad[:3])
    st = mock.stats()
    assert st["completed"] == n and st["cancelled"] == 0, st
    assert peak >= n * 0.8, peak


def test_upstream_connections_kept_across_waves(spawn, mock):
    """Waves of streams reuse the upstream connections of the waves before.
    A connection-cache limit below the streams in flight (the fixed
    CURLMOPT_MAXCONNECTS of 256 once; 64 gives 473 connections here) closes
    each finished stream's connection, and every next stream dials; curl's
    own limit, 4 x the transfers running, gave 299 as waves ended."""
    n, waves = 200, 3
    util.raise_nofile(4096)
    srv = serve(spawn, mock, "openai", nofile=4096)
    req = request_bytes("POST", "/chat/stream",
                        chat_body(say("hi", tokens=5, delay_ms=20)))
    for _ in range(waves):
        res = asyncio.run(asyncio.wait_for(many(srv.port, n, req), 60 * SLOW))
        bad = [r for r in res
               if not (isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200"))]
        assert not bad, bad[:3]
    st = mock.stats()
    print("\n%d waves of %d streams: %d upstream connections"
          % (waves, n, st["connections"]))
    assert st["completed"] == waves * n, st
    assert st["connections"] <= n * 1.1, st


def test_sequential_streams_share_one_upstream_connection(spawn, mock):
    """One stream after another reuse one upstream connection (a change
    that spread transfers over several curl multis round-robin failed
    this)."""
    srv = serve(spawn, mock, "openai")
    before = mock.stats()["connections"]    # mock.stats() dials one too
    for _ in range(6):
        r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=2)))
        assert r.status == 200 and r.complete, r.body
    st = mock.stats()
    assert st["completed"] == 6, st
    assert st["connections"] - before - 1 == 1, (before, st)


# ---- odd moments to leave, and keep-alive ---------------------------------------

def test_close_while_paused_cancels(srv, mock):
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.connect(("127.0.0.1", srv.port))
    slow.sendall(request_bytes("POST", "/chat/stream",
                               chat_body(say("hi", tokens=500000, delay_ms=0))))
    time.sleep(1.0)                             # llmfork has paused the upstream
    assert mock.stats()["active"] == 1
    measure_cancel(mock, slow, "paused stream")


def test_close_during_retry_wait(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="max_retries = 2\n")
    s = open_request(srv.port, "POST", "/chat/stream",
                     chat_body(say("hi", fault="429:ms=1500")))
    util.wait_for(lambda: mock.stats()["requests"] >= 1, 5 * SLOW, what="first attempt")
    time.sleep(0.2)
    s.close()
    time.sleep(2.0 * SLOW)                      # no retry after the client left
    assert mock.stats()["requests"] == 1, mock.stats()
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=3)))
    assert r.complete
    assert "".join(l["delta"]["content"] for l in r.ndjson()[1:]) == mock.answer(3)


def test_keep_alive_streams_back_to_back(srv, mock):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        for i, (path, body) in enumerate([
                ("/chat/stream", chat_body(say("a", tokens=3))),
                ("/chat", chat_body(say("b", tokens=4))),
                ("/v1/chat/completions", oai_body(say("c", tokens=5))),
                ("/chat/stream", chat_body(say("d", tokens=6)))]):
            s.sendall(request_bytes("POST", path, body, {"Connection": None}))
            r = read_reply(s)
            assert r.status == 200 and r.complete, (i, r.body[-200:])
            assert r.headers.get("connection", "").lower() != "close"
    finally:
        s.close()
    assert mock.stats()["completed"] == 4


def test_v1_head_waits_for_the_first_event(spawn):
    """An upstream that sends its head at once and its first event later
    (what the mock and a thinking model do): /v1's head goes out with that
    first event, in one segment, as nginx's postpone_output sends a
    proxied head. (/chat/stream has a line of its own to send at once.)"""
    first = HeadThenToken.EVENT % ('{"role":"assistant","content":"Hello!"}', "null")
    up = RawUpstream(head(), chunked([first.encode(), b"data: [DONE]\n\n"]),
                     pause=0.4)
    srv = serve(spawn, up, "openai")
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(request_bytes("POST", "/v1/chat/completions", oai_body("hi")))
    s.settimeout(10 * SLOW)
    got = s.recv(65536)
    segs = data_segments_in(s)
    s.close()
    assert got.startswith(b"HTTP/1.1 200"), got
    assert b"Hello!" in got and segs == 1, (segs, got)
