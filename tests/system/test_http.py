"""The worker's own HTTP/1.1 framing, seen from a raw socket: pipelining,
connection persistence, request bodies (length and chunked), Expect,
malformed requests."""
import time

import util
from util import SLOW


def test_pipelined_requests_answered_in_order(spawn):
    srv = spawn()
    with util.connect(srv.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /_test/pid HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = util.read_response(s)
        r2 = util.read_response(s, buf=r1.rest)
        r3 = util.read_response(s, buf=r2.rest)
    assert (r1.status, r2.status, r3.status) == (200, 404, 200)
    assert int(r3.body) in srv.workers()


def test_http10_closes_after_response(spawn):
    srv = spawn()
    with util.connect(srv.port) as s:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        r = util.read_response(s)
        assert r.status == 200
        assert util.closed_by_peer(s, 2 * SLOW) is not None


def test_connection_close_and_keepalive_off(spawn):
    srv = spawn(config="keepalive = 0\n")
    with util.connect(srv.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = util.read_response(s)
        assert r.status == 200
        assert r.headers.get("connection", "").lower() == "close", r.headers
        assert util.closed_by_peer(s, 2 * SLOW) is not None


def test_request_bodies(spawn):
    srv = spawn()
    body = bytes(range(256)) * 40
    with util.connect(srv.port) as s:
        s.sendall(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-t\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 3000):      # the body in pieces
            s.sendall(body[i:i + 3000])
            time.sleep(0.02)
        r = util.read_response(s)
        assert r.status == 200 and r.body == body
        assert r.headers["content-type"] == "application/x-t"
        # Chunked, with an extension and a trailer, sent 7 bytes at a time
        # (pieces end inside size lines, data and CRLFs).
        wire = (b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n11\r\n, chunked & split\r\n0\r\nX-Trailer: t\r\n\r\n")
        for i in range(0, len(wire), 7):
            s.sendall(wire[i:i + 7])
            time.sleep(0.005)
        r = util.read_response(s, buf=r.rest)
        assert r.status == 200 and r.body == b"hello, chunked & split", r.body
        # The connection is still usable afterwards.
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert util.read_response(s, buf=r.rest).status == 200


def test_expect_100_continue(spawn):
    srv = spawn()
    with util.connect(srv.port) as s:
        s.sendall(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        s.settimeout(5 * SLOW)
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = s.recv(4096)
            assert chunk, "closed before 100 Continue"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100"), interim
        s.sendall(b"ping")
        r = util.read_response(s, buf=interim.split(b"\r\n\r\n", 1)[1])
        assert r.status == 200 and r.body == b"ping"


def test_malformed_requests_get_400_json(spawn):
    srv = spawn(test_build=False)
    for wire in (b"GARBAGE\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
                 b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
                 # RFC 9112 3.2, as nginx: HTTP/1.1 needs one Host, no more
                 b"GET /healthz HTTP/1.1\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",
                 b"GET /healthz HTTP/1.0\r\nHost: x\r\nHost: x\r\n\r\n"):
        r = util.raw_request(srv.port, wire)
        assert r is not None and r.status == 400, (wire, r and r.status)
        assert r.json()["error"]
    assert util.raw_request(srv.port, b"GET /healthz HTTP/1.0\r\n\r\n").status == 200
    assert util.healthz_ok(srv.port)


def test_nul_in_head_is_400_not_a_smuggled_request(spawn):
    # A header line starting with NUL once ended the head there: the
    # Content-Length after it was dropped and the body was answered as a
    # second request. A NUL anywhere in the head is malformed.
    srv = spawn(test_build=False)
    inner = b"GET /nope HTTP/1.1\r\nHost: smuggled\r\n\r\n"
    for line in (b"\x00X: y\r\n", b"X-A: b\x00c\r\n"):
        wire = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + line +
                b"Content-Length: %d\r\n\r\n" % len(inner) + inner)
        with util.connect(srv.port) as s:
            s.sendall(wire)
            r = util.read_response(s)
            assert r.status == 400 and r.json()["error"], (line, r.status)
            assert r.headers.get("connection") == "close"
            assert util.closed_by_peer(s, 2 * SLOW) is not None
    assert util.healthz_ok(srv.port)


def test_absolute_form_target(spawn):
    # RFC 9112 3.2.2: a server must accept "GET http://host/path"; it was
    # routed as the path "http://host/healthz", a 404.
    srv = spawn(test_build=False)
    for target, status in ((b"http://x/healthz", 200),
                           (b"HTTP://x:1/healthz?a=1", 200),
                           (b"http://x/chat", 405),
                           (b"http://x", 200),          # the page, as "/"
                           (b"http://x/no/such", 404)):
        r = util.raw_request(srv.port, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
        assert r is not None and r.status == status, (target, r and r.status)


def test_http10_chunked_body_closes_the_connection(spawn):
    # RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means its
    # framing is faulty; the body is read, then the connection closes even
    # with keep-alive asked for, so nothing pipelined after it is served.
    srv = spawn()
    with util.connect(srv.port) as s:
        s.sendall(b"POST /_test/echo HTTP/1.0\r\nConnection: keep-alive\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                  b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = util.read_response(s)
        assert r.status == 200 and r.body == b"hello"
        assert r.headers.get("connection") == "close", r.headers
        assert util.read_response(s, buf=r.rest) is None


def test_chunked_trailers_and_size_lines_are_field_lines_or_400(spawn):
    # RFC 9112 7.1: a trailer is a field line, as in the head (a bare CR,
    # a NUL or no colon is malformed; this one read as a trailer once,
    # and the request after it was answered), and a chunk size is
    # followed only by BWS and ";" extensions. 400 and close, as nginx.
    srv = spawn()
    inner = b"GET /nope HTTP/1.1\r\nHost: smuggled\r\n\r\n"
    for framing in (b"0\r\nX\r\r\n" + inner,
                    b"0\r\nX-T: a\x00b\r\n\r\n" + inner,
                    b"0\r\nNo colon\r\n\r\n" + inner,
                    b"4 junk\r\nabcd\r\n0\r\n\r\n" + inner,
                    b"4\x01\r\nabcd\r\n0\r\n\r\n" + inner):
        with util.connect(srv.port) as s:
            s.sendall(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + framing)
            r = util.read_response(s)
            assert r is not None and r.status == 400, (framing, r and r.status)
            assert r.json()["error"]
            assert r.headers.get("connection") == "close"
            assert util.read_response(s, buf=r.rest) is None, framing
    # what the grammar allows still passes: BWS, extensions, trailers
    with util.connect(srv.port) as s:
        s.sendall(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n"
                  b"4 \t;a=\"b c\"\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n")
        r = util.read_response(s)
        assert r.status == 200 and r.body == b"abcd", r.body


def test_host_value_must_be_host_and_port(spawn):
    # RFC 9112 3.2 and RFC 3986 3.2.2: uri-host [":" port]; nginx: 400
    srv = spawn(test_build=False)
    for host in (b"a b", b"a/b@c", b"user@h", b"h:80x", b"[::1", b"[zz]"):
        r = util.raw_request(srv.port, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n"
                             % host)
        assert r is not None and r.status == 400, (host, r and r.status)
        assert r.json()["error"]
    for host in (b"", b"example.com", b"h:8000", b"127.0.0.1:1", b"[::1]:8000"):
        r = util.raw_request(srv.port, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n"
                             % host)
        assert r is not None and r.status == 200, (host, r and r.status)
