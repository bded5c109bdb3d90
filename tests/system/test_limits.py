"""Worker HTTP limits, timeouts, connection cap, EMFILE, many idle
connections. Raw sockets, so that nothing in a client library gets in the
way of what is sent."""
import os
import select
import socket
import time

import pytest

import util
from util import SLOW


def request(path="/healthz", headers=(), method="GET", body=None, extra=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: test"]
    lines += ["%s: %s" % h for h in headers]
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"") + extra


def assert_json_error(r, status):
    assert r is not None, "connection closed without a %d response" % status
    assert r.status == status, (r.status, r.body[:200])
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    err = r.json()["error"]
    assert isinstance(err, str) and err


def test_default_limits(spawn):
    srv = spawn(test_build=False)
    p = srv.port
    # Request line: 4094 by default.
    r = util.raw_request(p, request("/" + "a" * 4000))
    assert r.status == 404
    assert_json_error(util.raw_request(p, request("/" + "a" * 5000)), 414)
    # Header count: 100 by default.
    r = util.raw_request(p, request(headers=[("X-H%d" % i, "v") for i in range(90)]))
    assert r.status == 200
    assert_json_error(util.raw_request(p, request(headers=[("X-H%d" % i, "v") for i in range(150)])), 431)
    # Header line size: 8190 by default.
    r = util.raw_request(p, request(headers=[("X-Big", "b" * 8000)]))
    assert r.status == 200
    assert_json_error(util.raw_request(p, request(headers=[("X-Big", "b" * 9000)])), 431)
    # Body: 1 MiB by default.
    r = util.raw_request(p, request(method="POST", body=b"x" * 1000))
    assert r.status != 413
    assert_json_error(big_body(p, 2 * 1024 * 1024), 413)
    # The server still serves after all that.
    assert util.raw_request(p, request()).status == 200


def big_body(port, size):
    """POST with Content-Length size: the answer may come before the body
    (as it should) or after it; either way it must be one response."""
    with util.connect(port) as s:
        s.sendall(request(method="POST")[:-2] + b"Content-Length: %d\r\n\r\n" % size)
        ready, _, _ = select.select([s], [], [], 2 * SLOW)
        if not ready:
            try:
                s.sendall(b"x" * size)
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            return util.read_response(s, 10 * SLOW)
        except ConnectionResetError:
            return None


CUSTOM = """\
limit_request_line = 200
limit_request_fields = 10
limit_request_field_size = 100
limit_request_body = 1000
"""


def test_configured_limits(spawn):
    srv = spawn(config=CUSTOM, test_build=False)
    p = srv.port
    assert util.raw_request(p, request("/" + "a" * 150)).status == 404
    assert_json_error(util.raw_request(p, request("/" + "a" * 300)), 414)
    assert util.raw_request(p, request(headers=[("X-H%d" % i, "v") for i in range(5)])).status == 200
    assert_json_error(util.raw_request(p, request(headers=[("X-H%d" % i, "v") for i in range(20)])), 431)
    assert util.raw_request(p, request(headers=[("X-Big", "b" * 50)])).status == 200
    assert_json_error(util.raw_request(p, request(headers=[("X-Big", "b" * 200)])), 431)
    assert util.raw_request(p, request(method="POST", body=b"x" * 900)).status != 413
    assert_json_error(util.raw_request(p, request(method="POST", body=b"x" * 1500)), 413)
    # A chunked body is held to the same limit.
    chunked = (request(method="POST", headers=[("Transfer-Encoding", "chunked")])
               + b"".join(b"258\r\n" + b"c" * 600 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n")
    assert_json_error(util.raw_request(p, chunked), 413)


@pytest.mark.slow
def test_keepalive_idle_timeout(spawn):
    srv = spawn(config="keepalive = 2\n", test_build=False)
    with util.connect(srv.port) as s:
        s.sendall(request())
        r = util.read_response(s)
        assert r.status == 200
        time.sleep(0.5)
        s.sendall(request())        # still open: keep-alive works
        r = util.read_response(s, buf=r.rest)
        assert r.status == 200
        t = util.closed_by_peer(s, 10 * SLOW)
    assert t is not None, "idle keep-alive connection never closed"
    assert 1.5 <= t <= 2 + 2 * SLOW, t


@pytest.mark.slow
def test_slowloris_is_cut_off(spawn):
    srv = spawn(config="client_header_timeout = 2\n", test_build=False)
    s = util.connect(srv.port)
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    trickle = b"X-Slow-Header-That-Never-Ends: " + b"a" * 100
    t0 = time.monotonic()
    closed_at = None
    for i, byte in enumerate(trickle):
        try:
            s.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic() - t0
            break
        if util.closed_by_peer(s, 0.5) is not None:
            closed_at = time.monotonic() - t0
            break
        if i % 2 == 0:      # others are served meanwhile, promptly
            t1 = time.monotonic()
            assert util.raw_request(srv.port, request()).status == 200
            assert time.monotonic() - t1 < 1.0 * SLOW
        if time.monotonic() - t0 > 10 * SLOW:
            break
    s.close()
    assert closed_at is not None, "slow header sender never disconnected"
    assert 1.5 <= closed_at <= 2 + 2 * SLOW, closed_at


def test_worker_connections_cap(spawn):
    util.raise_nofile()
    srv = spawn(config="worker_connections = 50\n", args=["-w", "1"], test_build=False)
    held = []
    for _ in range(45):
        s = util.connect(srv.port)
        s.sendall(request())
        assert util.read_response(s).status == 200
        held.append(s)
    extra = [util.connect(srv.port) for _ in range(15)]
    for s in extra:
        try:
            s.sendall(request())
        except (BrokenPipeError, ConnectionResetError):
            pass
    outcome = {"served": 0, "refused": 0, "hung": 0}
    deadline = time.monotonic() + 5 * SLOW
    for s in extra:
        try:
            r = util.read_response(s, max(0.1, deadline - time.monotonic()))
            if r is None or r.status == 503:
                outcome["refused"] += 1
            else:
                assert r.status == 200
                outcome["served"] += 1
        except ConnectionResetError:
            outcome["refused"] += 1
        except socket.timeout:
            outcome["hung"] += 1
        s.close()
    assert outcome["hung"] == 0, outcome
    assert outcome["refused"] >= 5, outcome
    for s in held:          # the existing connections still work
        s.sendall(request())
        assert util.read_response(s).status == 200
        s.close()
    assert util.raw_request(srv.port, request()).status == 200


def _cpu_share(pid, seconds):
    t0 = util.cpu_ticks(pid)
    time.sleep(seconds)
    return (util.cpu_ticks(pid) - t0) / os.sysconf("SC_CLK_TCK") / seconds


@pytest.mark.slow
def test_emfile_does_not_spin(spawn):
    util.raise_nofile()
    srv = spawn(args=["-w", "1"], nofile=64, test_build=False)
    worker = srv.workers()[0]
    conns = []
    try:
        for _ in range(100):
            conns.append(util.connect(srv.port))
        # The worker really ran out of descriptors (64, a few for itself).
        util.wait_for(lambda: util.fd_count(worker) >= 60, 5 * SLOW,
                      what=lambda: "worker at its fd limit (has %d)" % util.fd_count(worker))
        time.sleep(0.3)
        share = _cpu_share(worker, 2.0)
        assert share < 0.5, "worker used %.0f%% CPU while out of fds" % (share * 100)
        assert util.alive(worker)
    finally:
        for s in conns:
            s.close()
    ok = util.wait_for(lambda: util.healthz_ok(srv.port), 10 * SLOW, interval=0.2,
                       what="/healthz after fds were freed")
    assert ok
    assert srv.workers() == [worker]


@pytest.mark.slow
def test_2000_idle_connections(spawn):
    util.raise_nofile()
    # Connections that never send a byte are cut at client_header_timeout
    # (10 s by default); on a loaded box this test can take that long.
    srv = spawn(args=["-w", "1"], config="client_header_timeout = 600\n", test_build=False)
    worker = srv.workers()[0]
    conns = []
    try:
        for _ in range(2000):
            conns.append(util.connect(srv.port))
        util.wait_for(lambda: util.fd_count(worker) >= 2000, 10 * SLOW, interval=0.1,
                      what=lambda: "worker to accept 2000 connections (has %d fds)"
                      % util.fd_count(worker))
        for _ in range(20):
            t = time.monotonic()
            assert util.raw_request(srv.port, request()).status == 200
            assert time.monotonic() - t < 0.5 * SLOW
        p = select.poll()
        for s in conns:
            p.register(s, select.POLLIN)
        closed = p.poll(0)
        assert closed == [], "%d idle connections were closed" % len(closed)
    finally:
        for s in conns:
            s.close()
