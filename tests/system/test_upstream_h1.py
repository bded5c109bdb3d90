"""fetch's own HTTP/1.1 client (worker/fetch/h1/h1.c), which carries every call to a
plain-http upstream named by an IP address or localhost: keep-alive reuse,
an idle connection the server closed, the framings real servers use, and
what it refuses. A raw upstream (rawup.py) sends the bytes verbatim.
"""
import socket
import time
import zlib

from rawup import RawUpstream, chunked, head, sse, whole
from test_upstream_real import WORDS, azure_stream, completion, contents
from upstream import chat_body, post, serve

MSG = {"role": "assistant", "content": "Hi there", "refusal": None}


class Counting(RawUpstream):
    """Counts the connections it accepted; with idle_close, closes each
    connection that stays idle that long after a response (as uvicorn's
    keep-alive timeout does)."""

    def __init__(self, *a, idle_close=None, **kw):
        self.accepted, self.idle_close = 0, idle_close
        super().__init__(*a, **kw)

    def _serve(self, c):
        self.accepted += 1
        if self.idle_close is None:
            return super()._serve(c)
        try:
            while True:
                c.settimeout(None if not self.requests else self.idle_close)
                if not c.recv(1, socket.MSG_PEEK):
                    break
                c.settimeout(None)
                if not self._read_request(c):
                    break
                c.sendall(self.response)
        except (socket.timeout, OSError):
            pass
        c.close()


def start(spawn, up, provider="azure"):
    return serve(spawn, up, provider, conf="max_retries = 0\n")


def ask(srv):
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 200, r.body
    return r.json()["message"]["content"]


def test_keepalive_connection_is_reused(spawn):
    up = Counting(whole(200, completion(MSG)), close=False)
    srv = start(spawn, up)
    assert [ask(srv) for _ in range(3)] == ["Hi there"] * 3
    assert len(up.requests) == 3
    assert up.accepted == 1             # one connection carried all three


def test_idle_connection_closed_by_upstream_is_dialled_again(spawn):
    up = Counting(whole(200, completion(MSG)), close=False, idle_close=0.2)
    srv = start(spawn, up)
    assert ask(srv) == "Hi there"
    time.sleep(0.6)                     # the upstream closed it meanwhile
    # no retries are configured: the client itself must dial again
    assert ask(srv) == "Hi there"
    assert up.accepted == 2


def test_connection_close_is_not_reused(spawn):
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}'
    resp = head(200, ctype="application/json", length=len(body),
                extra=["Connection: close"]) + body
    up = Counting(resp, close=False)    # says close, keeps it open
    srv = start(spawn, up)
    assert [ask(srv) for _ in range(2)] == ["ok", "ok"]
    assert up.accepted == 2


def test_http10_body_up_to_the_close(spawn):
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"old"}}]}'
    up = Counting(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
                  [body[:20], body[20:]])
    srv = start(spawn, up)
    assert ask(srv) == "old"


def test_interim_head_extensions_and_trailers(spawn):
    pieces = [sse(p) if isinstance(p, dict) else p for p in azure_stream()]
    framed = [b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces]
    framed.append(b"0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n")
    up = Counting(b"HTTP/1.1 100 Continue\r\n\r\n" + head(), framed)
    srv = start(spawn, up)
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 200 and r.complete, r.body
    assert contents(r) == "".join(WORDS)


def test_bad_chunk_size_is_an_error(spawn):
    up = Counting(head(), chunked([sse({"x": 1})])[:0] + [b"zz\r\nhello\r\n"])
    srv = start(spawn, up)
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 502, r.body
    assert "error" in r.json()


def test_head_over_100k_is_refused(spawn):
    """curl's bound on a response head, kept: the answer after it is fine,
    so only the bound can make this a 502."""
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}]}'
    big = head(200, ctype="application/json", length=len(body),
               extra=["X-Big-%d: %s" % (i, "x" * 1200) for i in range(90)])
    srv = start(spawn, Counting(big + body))
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 502, r.body
    assert "error" in r.json()
    small = head(200, ctype="application/json", length=len(body),
                 extra=["X-Big-%d: %s" % (i, "x" * 1200) for i in range(60)])
    srv2 = start(spawn, Counting(small + body))
    assert ask(srv2) == "x"


def test_deflate_zlib_and_raw(spawn):
    raw = zlib.compressobj(wbits=-15)
    for data in (zlib.compress(b'{"choices":[{"index":0,"message":{"role":'
                               b'"assistant","content":"z"}}]}'),
                 raw.compress(b'{"choices":[{"index":0,"message":{"role":'
                              b'"assistant","content":"z"}}]}') + raw.flush()):
        resp = head(200, ctype="application/json", length=len(data),
                    extra=["Content-Encoding: deflate"]) + data
        up = Counting(resp)
        srv = start(spawn, up)
        assert ask(srv) == "z"
        srv.stop()


def test_localhost_is_served(spawn):
    up = Counting(whole(200, completion(MSG)), close=False)
    up.url = "http://localhost:%d" % up.port
    srv = start(spawn, up)
    assert ask(srv) == "Hi there"
    assert b"Host: localhost:%d" % up.port in up.requests[0][0]


def test_a_proxy_in_the_environment_is_used(spawn):
    """With http_proxy set, an upstream named by its IP address goes
    through the proxy as well (curl makes those calls)."""
    proxy = Counting(whole(200, completion(MSG)))

    class Unreachable:
        url = "http://127.0.0.1:9"      # nothing listens there
    srv = serve(spawn, Unreachable, "azure", conf="max_retries = 0\n",
                env={"http_proxy": proxy.url, "no_proxy": ""})
    assert ask(srv) == "Hi there"
    assert proxy.requests[0][0].startswith(b"POST http://127.0.0.1:9/")


def test_native_http_false_hands_every_call_to_libcurl(spawn):
    """The setting is the way back to libcurl: curl sends its Accept line,
    fetch's own client does not."""
    for conf, curl in (("", False), ("native_http = false\n", True)):
        up = Counting(whole(200, completion(MSG)))
        srv = serve(spawn, up, "azure", conf="max_retries = 0\n" + conf)
        assert ask(srv) == "Hi there"
        assert (b"\r\nAccept: */*" in up.requests[0][0]) == curl
        srv.stop()


def test_transfer_encoding_and_content_length_is_an_error(spawn):
    # RFC 9112 6.3: both in one response may be smuggling; it was read as
    # chunked and its connection kept for the next call.
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}]}'
    up = Counting(resp, chunked([body]), close=False)
    srv = start(spawn, up)
    for _ in range(2):
        r = post(srv.port, "/chat", chat_body("hi"))
        assert r.status == 502, r.body
        assert "error" in r.json()
    assert up.accepted == 2             # the first connection was closed
