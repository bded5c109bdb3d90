"""CORS (allowed_origins, env ALLOWED_ORIGINS): preflights answered in the
router, Access-Control-Allow-Origin on the chat and gateway responses of
an allowed origin (streams and errors too), nothing when unset. What a
browser would do, over one keep-alive connection per client, against the
real binary with the mock upstream; headers as Starlette's CORSMiddleware
sends them for openai-chat-backend-fastapi (allow_credentials, all
methods and headers)."""
import socket

import pytest

from upstream import (chat_body, oai_body, read_reply, request_bytes,  # noqa: F401
                      mock, say, serve)

PAGE = "http://localhost:8080"
OTHER = "https://app.example.com"
ORIGINS = PAGE + "," + OTHER
METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


class Client:
    """A browser's connection: keep-alive, one request after another."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def send(self, method, path, body=None, headers=None):
        h = {"Connection": None}
        h.update(headers or {})
        self.sock.sendall(request_bytes(method, path, body, h))
        r = read_reply(self.sock)
        assert r.status is not None and not r.eof, (method, path, r.body)
        return r

    def preflight(self, path, origin, method="POST", headers=None):
        h = {"Origin": origin, "Access-Control-Request-Method": method}
        if headers:
            h["Access-Control-Request-Headers"] = headers
        return self.send("OPTIONS", path, headers=h)

    def close(self):
        self.sock.close()


@pytest.fixture
def client(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\n",
                env={"ALLOWED_ORIGINS": ORIGINS})
    c = Client(srv.port)
    yield c
    c.close()


def cors_headers(r):
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def assert_allowed(r, origin):
    assert r.headers.get("access-control-allow-origin") == origin, r.headers
    assert r.headers.get("vary") == "Origin", r.headers
    assert r.headers.get("access-control-allow-credentials") == "true", r.headers


@pytest.mark.parametrize("path", ["/chat", "/chat/stream", "/v1/chat/completions",
                                  "/openai/v1/responses", "/v1/embeddings",
                                  "/openai/deployments/d/chat/completions"])
def test_preflight_of_an_allowed_origin(client, mock, path):
    r = client.preflight(path, PAGE, headers="content-type, authorization")
    assert r.status == 204, r.body
    assert r.body == b"" and "content-length" not in r.headers
    assert cors_headers(r) == {
        "access-control-allow-origin": PAGE,
        "access-control-allow-methods": METHODS,
        "access-control-allow-headers": "content-type, authorization",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }
    assert r.headers["vary"] == "Origin"
    # No Access-Control-Request-Headers: none mirrored.
    r = client.preflight(path, OTHER)
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == OTHER
    assert "access-control-allow-headers" not in r.headers
    assert mock.stats()["requests"] == 0


def test_chat_stream_and_errors_carry_the_origin(client, mock):
    h = {"Origin": PAGE}
    r = client.send("POST", "/chat/stream", chat_body(say("hi", tokens=5)), h)
    assert r.status == 200 and r.complete, r.body
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert_allowed(r, PAGE)
    assert len(r.ndjson()) >= 5
    r = client.send("POST", "/chat", chat_body("hi"), h)
    assert r.status == 200 and r.json()["message"]["content"]
    assert_allowed(r, PAGE)
    # A bad request and an upstream failure: the page can read the error.
    r = client.send("POST", "/chat", {"messages": "nope"}, h)
    assert r.status == 400 and r.json()["error"]
    assert_allowed(r, PAGE)
    r = client.send("POST", "/chat/stream", chat_body(say("hi", fault=500)), h)
    assert r.status >= 500, r.body
    assert_allowed(r, PAGE)


def test_gateway_stream_and_errors_carry_the_origin(client, mock):
    h = {"Origin": OTHER, "Authorization": "Bearer anything"}
    r = client.send("POST", "/v1/chat/completions", oai_body(say("hi", tokens=4)), h)
    assert r.status == 200 and r.complete, r.body
    assert r.headers["content-type"].startswith("text/event-stream")
    assert_allowed(r, OTHER)
    r = client.send("POST", "/v1/chat/completions", {"model": "m"}, h)
    assert r.status == 400 and r.json()["error"]["message"]
    assert_allowed(r, OTHER)
    r = client.send("GET", "/v1/models", None, h)
    assert r.status == 200
    assert_allowed(r, OTHER)


def test_disallowed_origin(client, mock):
    evil = "http://evil.example"
    r = client.preflight("/chat/stream", evil, headers="content-type")
    assert r.status == 400
    assert r.json() == {"error": "Disallowed CORS origin"}
    assert "access-control-allow-origin" not in r.headers
    # Near misses are other origins: the port, the scheme, a trailing '/'.
    for origin in ("http://localhost", "https://localhost:8080", PAGE + "/"):
        r = client.preflight("/chat", origin)
        assert r.status == 400, origin
    # A request from it is served as without CORS: no CORS header at all.
    r = client.send("POST", "/chat", chat_body("hi"), {"Origin": evil})
    assert r.status == 200
    assert cors_headers(r) == {} and "vary" not in r.headers
    # A method outside Starlette's list.
    r = client.preflight("/chat", PAGE, method="TRACE")
    assert r.status == 400 and r.json() == {"error": "Disallowed CORS method"}


def test_routes_and_plain_options(client):
    # A preflight for a path no app serves is a 404, not a 405 from the
    # static files' catch-all; the static files themselves are no route.
    for path in ("/nope", "/v2/chat/completions", "/index.html"):
        r = client.preflight(path, PAGE)
        assert r.status == 404, (path, r.status)
        assert r.json()["error"]
    # OPTIONS that is not a preflight: routed as before (405 with Allow).
    r = client.send("OPTIONS", "/chat", None, {"Origin": PAGE})
    assert r.status == 405 and r.headers["allow"] == "POST"
    r = client.send("OPTIONS", "/chat", None, {"Access-Control-Request-Method": "POST"})
    assert r.status == 405
    # Same-origin requests (no Origin) get no CORS headers.
    r = client.send("POST", "/chat", chat_body("hi"))
    assert r.status == 200 and cors_headers(r) == {} and "vary" not in r.headers


def test_unset_means_no_cors_at_all(spawn, mock):
    srv = serve(spawn, mock, "openai", env={"ALLOWED_ORIGINS": None})
    c = Client(srv.port)
    try:
        r = c.preflight("/chat/stream", PAGE, headers="content-type")
        assert r.status == 405 and r.headers["allow"] == "POST"
        assert cors_headers(r) == {}
        r = c.send("POST", "/chat/stream", chat_body("hi"), {"Origin": PAGE})
        assert r.status == 200 and cors_headers(r) == {} and "vary" not in r.headers
    finally:
        c.close()


def test_any_origin(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="allowed_origins = *\n")
    c = Client(srv.port)
    try:
        # Preflights name the origin (credentials are allowed).
        r = c.preflight("/v1/chat/completions", OTHER, headers="authorization")
        assert r.status == 204
        assert r.headers["access-control-allow-origin"] == OTHER
        assert r.headers["vary"] == "Origin"
        # Without credentials: "*"; with Authorization or Cookie: the origin.
        r = c.send("POST", "/chat", chat_body("hi"), {"Origin": OTHER})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "vary" not in r.headers
        for cred in ({"Authorization": "Bearer x"}, {"Cookie": "a=b"}):
            r = c.send("POST", "/v1/chat/completions", oai_body("hi"),
                       dict(cred, Origin=OTHER))
            assert r.status == 200
            assert_allowed(r, OTHER)
    finally:
        c.close()


def test_bad_origin_is_a_config_error(cli, tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("workers = 1\nallowed_origins = http://localhost:8080/\n")
    rc, out, err = cli(["--check-config", "-c", str(conf)])
    assert rc == 2
    assert "%s:2: allowed_origins" % conf in err, err
    assert "'http://localhost:8080/'" in err, err
    rc, out, err = cli(["--check-config", "-b", "127.0.0.1:1"],
                       env={"ALLOWED_ORIGINS": "localhost"})
    assert rc == 2 and "ALLOWED_ORIGINS" in err and "'localhost'" in err, err
