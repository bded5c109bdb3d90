"""Upstream failures as the chat app's clients see them: rate limits and
retries, server errors, the content filter, refused credentials, an
unreachable upstream, timeouts, and failures after the stream began.
Faults are injected with the mock's body directive (tests/mock/mock.c).
"""
import json
import time
import uuid

import pytest

import util
from upstream import (KEY, chat_body, mock, post, say, serve)  # noqa: F401
from util import SLOW


def fresh_key():
    return uuid.uuid4().hex[:12]


def timed_post(port, path, body):
    """post(), and the seconds it took."""
    t0 = time.monotonic()
    r = post(port, path, body)
    return r, time.monotonic() - t0


def error_of(r):
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    return body["error"]


def stream_error_line(r):
    """Asserts a stream that began, ended with one {"error"} line, and was
    terminated cleanly; returns (content lines, error text)."""
    assert r.status == 200, r.body
    assert r.complete, "stream not ended with the chunked terminator: %r" % r.body[-200:]
    lines = r.ndjson()
    assert lines[0]["delta"] == {"role": "assistant"}
    last = lines[-1]
    assert set(last) == {"error"} and isinstance(last["error"], str), last
    assert all("error" not in l for l in lines[:-1])
    return [l["delta"]["content"] for l in lines[1:-1]], last["error"]


# ---- the mock's in-band controls -----------------------------------------

def test_mock_directive_and_precedence(mock):
    """header > query > body directive > default, straight to the mock."""
    def call(path, content, headers=None):
        h = {"Authorization": "Bearer " + KEY}
        h.update(headers or {})
        r = post(mock.port, path, {"model": "m", "stream": False,
                                   "messages": [{"role": "user", "content": "x"},
                                                {"role": "assistant", "content": "y"},
                                                {"role": "user", "content": content}]},
                 headers=h)
        return r
    r = call("/v1/chat/completions", say("hi", tokens=3))
    assert r.json()["choices"][0]["message"]["content"] == mock.answer(3)
    r = call("/v1/chat/completions?tokens=4", say("hi", tokens=3))
    assert r.json()["choices"][0]["message"]["content"] == mock.answer(4)
    r = call("/v1/chat/completions?tokens=4", say("hi", tokens=3), {"x-mock-tokens": "5"})
    assert r.json()["choices"][0]["message"]["content"] == mock.answer(5)
    r = call("/v1/chat/completions", say("hi", fault="429:ms=20"))
    assert r.status == 429 and r.headers["retry-after-ms"] == "20"
    r = call("/v1/chat/completions", say("hi", fault=429), {"x-mock-fault": "none"})
    assert r.status == 200
    for bad in ("hi [mock tokens=x]", "hi [mock nosuch=1]", "hi [mock tokens=3"):
        assert call("/v1/chat/completions", bad).status == 400, bad


def test_mock_default_fault_from_command_line(tmp_path):
    from upstream import Mock
    m = Mock(tmp_path, "--fault", "503", name="faulty")
    try:
        h = {"Authorization": "Bearer " + KEY}
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert post(m.port, "/v1/chat/completions", body, headers=h).status == 503
        body["messages"][0]["content"] = say("hi", fault="none")
        assert post(m.port, "/v1/chat/completions", body, headers=h).status == 200
    finally:
        assert m.stop() == 0


# ---- before the stream starts: the status the client gets -----------------

@pytest.fixture
def srv(spawn, mock):
    return serve(spawn, mock, "openai", conf="max_retries = 1\n")


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_429_retries_exhausted(srv, mock, path):
    r = post(srv.port, path, chat_body(say("hi", fault="429:ms=2000")))
    assert r.status == 429, r.body
    assert r.headers.get("retry-after") == "2"
    error_of(r)
    assert mock.stats()["requests"] == 2            # 1 + max_retries


def test_429_with_only_retry_after_ms_gives_retry_after(srv, mock):
    r = post(srv.port, "/chat", chat_body(say("hi", fault="429:ms=2500,only=ms")))
    assert r.status == 429, r.body
    assert r.headers.get("retry-after") == "3"      # 2500 ms, rounded up
    error_of(r)


def test_429_once_is_retried_transparently(srv, mock):
    r, took = timed_post(srv.port, "/chat/stream", chat_body(say(
        "hi", fault="429:ms=300", fail_count=1, fault_key=fresh_key(), tokens=5)))
    assert r.status == 200, r.body
    assert "".join(l["delta"]["content"] for l in r.ndjson()[1:]) == mock.answer(5)
    st = mock.stats()
    assert st["requests"] == 2 and st["faults"] == 1 and st["completed"] == 1
    assert took >= 0.3, "did not wait retry-after-ms"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_retried_then_502(srv, mock, status):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", fault="%d:ms=10" % status)))
    assert r.status == 502, r.body
    error_of(r)
    assert mock.stats()["requests"] == 2


def test_500_once_then_success(srv, mock):
    r = post(srv.port, "/chat", chat_body(say(
        "hi", fault="500:ms=10", fail_count=1, fault_key=fresh_key(), tokens=3)))
    assert r.status == 200, r.body
    assert r.json()["message"]["content"] == mock.answer(3)
    assert mock.stats()["requests"] == 2


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_content_filter_is_400_with_its_message(srv, mock, path):
    r = post(srv.port, path, chat_body(say("hi", fault="content_filter")))
    assert r.status == 400, r.body
    assert "content management policy" in error_of(r)
    assert mock.stats()["requests"] == 1            # never retried


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_502_without_the_key(srv, mock, status):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", fault=status)))
    assert r.status == 502, r.body
    msg = error_of(r)
    assert "credential" in msg, msg
    assert KEY not in r.body.decode() and KEY[-6:] not in r.body.decode()
    assert mock.stats()["requests"] == 1


def test_wrong_key_for_real_is_502_without_the_key(spawn, mock):
    wrong = "sk-wrong-secret-9876543"
    srv = serve(spawn, mock, "openai", env={"OPENAI_API_KEY": wrong})
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 502, r.body
    text = r.body.decode()
    assert wrong not in text and "6543" not in text and "credential" in text


def test_unreachable_upstream_is_502(spawn):
    port = util.free_port()                     # nothing listens there
    srv = spawn(config="workers = 1\nmax_retries = 1\n", test_build=False, env={
        "LLMFORK_PROVIDER": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:%d/v1" % port,
        "OPENAI_API_KEY": KEY, "OPENAI_MODEL": "m"})
    for path in ("/chat", "/chat/stream"):
        r = post(srv.port, path, chat_body("hi"))
        assert r.status == 502, r.body
        error_of(r)


def test_first_byte_timeout_is_504(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="first_byte_timeout = 1\nmax_retries = 0\n")
    r, took = timed_post(srv.port, "/chat", chat_body(say("hi", ttft_ms=4000)))
    assert r.status == 504, r.body
    error_of(r)
    assert 0.9 <= took < 3.5 * SLOW, took
    assert mock.stats()["requests"] == 1            # timeouts are not retried


# ---- after the stream started: one last error line, then a clean end -------

@pytest.mark.parametrize("fault,after,says", [
    ("cut", 4, None),
    ("malformed", 3, "malformed"),
    ("error_event", 5, "server had an error"),
    ("filter_mid", 4, "content filter"),        # Azure's output filter
])
def test_fault_mid_stream(srv, mock, fault, after, says):
    """The words before the fault, then one error line; never retried after
    the first byte."""
    r = post(srv.port, "/chat/stream",
             chat_body(say("hi", tokens=10, fault="%s:after=%d" % (fault, after))))
    words, err = stream_error_line(r)
    assert "".join(words) == mock.answer(after)
    if says is not None:
        assert says in err, err
    assert mock.stats()["requests"] == 1
    util.wait_for(lambda: mock.stats()["active"] == 0, 5 * SLOW,
                  what="the upstream call to end")


def test_stall_beyond_idle_timeout(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="idle_timeout = 1\n")
    r, took = timed_post(srv.port, "/chat/stream", chat_body(
        say("hi", tokens=10, delay_ms=1, fault="stall:after=2")))
    words, err = stream_error_line(r)
    assert "".join(words) == mock.answer(2)
    assert 0.9 <= took < 4 * SLOW, took
    mock.wait_stat("cancelled", 1)                  # llmfork hung up on it


def test_ttft_beyond_idle_timeout_on_a_stream(spawn, mock):
    """The upstream answered 200 but no token comes: the stream has begun,
    so the timeout is an error line."""
    srv = serve(spawn, mock, "openai", conf="idle_timeout = 1\nfirst_byte_timeout = 1\n")
    r = post(srv.port, "/chat/stream", chat_body(say("hi", ttft_ms=5000)))
    if r.status == 504:
        error_of(r)
    else:
        words, err = stream_error_line(r)
        assert words == []


def test_error_event_passes_through_the_gateway(srv, mock):
    from upstream import oai_body, sse_events
    r = post(srv.port, "/v1/chat/completions",
             oai_body(say("hi", tokens=6, fault="error_event:after=2")))
    assert r.status == 200 and r.complete
    evs = sse_events(r.body)
    assert json.loads(evs[-1])["error"]["type"] == "server_error"
    assert sum(1 for e in evs if '"content":"' in e and '"content":""' not in e) == 2
    # and a non-streaming request with that fault is a plain 500 upstream
    r = post(srv.port, "/chat", chat_body(say("hi", fault="error_event")))
    assert r.status == 502, r.body


def test_total_timeout_cuts_a_long_stream(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="total_timeout = 1\n")
    r, took = timed_post(srv.port, "/chat/stream", chat_body(say("hi", tokens=100, delay_ms=50)))
    words, err = stream_error_line(r)
    assert 5 <= len(words) < 40, words
    assert "".join(words) == mock.answer(len(words))
    assert 0.9 <= took < 3 * SLOW, took
    mock.wait_stat("cancelled", 1)


def test_429_without_retry_headers_backs_off_by_itself(srv, mock):
    """OpenAI's 429s often carry no retry-after: llmfork waits by its own
    policy (0.5 s x 2^n, jittered) and passes no Retry-After on."""
    r, took = timed_post(srv.port, "/chat/stream", chat_body(say("hi", fault="429:ms=none")))
    assert r.status == 429, r.body
    assert "retry-after" not in r.headers
    error_of(r)
    assert mock.stats()["requests"] == 2
    assert took >= 0.3, took
