"""The chat app (/chat, /chat/stream) in front of the mock upstream: the
@microsoft/ai-chat-protocol shapes, streaming line by line, what goes
upstream, and request validation.
"""
import json

import pytest

from upstream import (KEY, MODEL, Mock, chat_body, mock, post, say,  # noqa: F401
                      serve)
from util import SLOW

CONF = "system_prompt = Be terse.\nmax_tokens_limit = 100\n"


@pytest.fixture
def srv(spawn, mock):
    return serve(spawn, mock, "openai", conf=CONF)


def content_lines(lines):
    return [l["delta"]["content"] for l in lines[1:]]


def test_stream_shape(srv, mock):
    state = {"turn": 3, "ids": [1, "x"]}
    r = post(srv.port, "/chat/stream",
             chat_body(say("hello", tokens=12, delay_ms=5), session_state=state))
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers.get("transfer-encoding") == "chunked"
    assert r.complete, "no chunked terminator"
    assert r.body.endswith(b"\n") and all(l.endswith("\n") for l in r.lines)
    lines = r.ndjson()
    first = lines[0]
    assert set(first) == {"delta", "context", "session_state"}
    assert first["delta"] == {"role": "assistant"}
    assert isinstance(first["context"], dict)
    assert first["session_state"] == state
    for l in lines[1:]:
        assert set(l) == {"delta"}, l
        assert set(l["delta"]) == {"content", "role"}, l
        assert l["delta"]["role"] == "assistant"
        assert l["delta"]["content"] != ""
    # one line per upstream content chunk, nothing lost or merged
    assert len(lines) == 1 + 12
    assert "".join(content_lines(lines)) == mock.answer(12)


def test_stream_lines_arrive_as_generated(srv, mock):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=6, delay_ms=150)))
    assert r.status == 200 and r.complete
    lines = r.ndjson()
    assert "".join(content_lines(lines)) == mock.answer(6)
    # each token line in its own chunk, when the upstream sent it
    times = [t for t, data in r.chunks if b'"content"' in data]
    assert len(times) == 6, r.chunks
    assert times[-1] - times[0] >= 0.5, times
    assert all(b - a >= 0.08 for a, b in zip(times, times[1:])), times


def test_session_state_camel_case_is_echoed(srv):
    r = post(srv.port, "/chat/stream",
             chat_body(say("hi", tokens=2), sessionState="abc-123"))
    assert r.status == 200
    assert r.ndjson()[0]["session_state"] == "abc-123"
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=2)))
    assert r.ndjson()[0]["session_state"] is None


def test_chat_whole_answer(srv, mock):
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=9),
                                          context={"overrides": {}},
                                          sessionState={"a": 1}))
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["message"] == {"role": "assistant", "content": mock.answer(9)}
    assert body["session_state"] == {"a": 1}
    assert isinstance(body["context"], dict)
    up = mock.last()["json"]
    assert up["stream"] is False and "stream_options" not in up


def test_upstream_body(srv, mock):
    msgs = [{"role": "user", "content": "first"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": say("second", tokens=10)}]
    r = post(srv.port, "/chat/stream", {
        "messages": msgs,
        "context": {"overrides": {"temperature": 0.25, "max_tokens": 3, "seed": 42}}})
    assert r.status == 200, r.body
    up = mock.last()
    assert up["path"] == "/v1/chat/completions"
    j = up["json"]
    assert j["messages"][0] == {"role": "system", "content": "Be terse."}
    assert j["messages"][1:] == msgs
    assert j["model"] == MODEL
    assert j["stream"] is True
    assert "stream_options" not in j      # no usage asked: none is read
    assert j["temperature"] == 0.25 and j["max_tokens"] == 3 and j["seed"] == 42
    # the mock honoured max_tokens: 3 tokens, not 10
    assert "".join(content_lines(r.ndjson())) == mock.answer(3)


@pytest.mark.parametrize("overrides, field", [
    ({"max_tokens": 101}, "context.overrides.max_tokens"),
    ({"max_tokens": 0}, "context.overrides.max_tokens"),
    ({"max_tokens": 2.5}, "context.overrides.max_tokens"),
    ({"temperature": 2.5}, "context.overrides.temperature"),
    ({"temperature": "hot"}, "context.overrides.temperature"),
    ({"seed": "x"}, "context.overrides.seed"),
])
def test_override_bounds(srv, mock, overrides, field):
    before = mock.stats()["requests"]
    for path in ("/chat", "/chat/stream"):
        r = post(srv.port, path, chat_body("hi", context={"overrides": overrides}))
        assert r.status == 400, r.body
        assert field in r.json()["error"], r.body
    assert mock.stats()["requests"] == before


def test_json_content_type_with_charset(srv, mock):
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=2)),
             ctype="application/json; charset=utf-8")
    assert r.status == 200, r.body
    assert r.json()["message"]["content"] == mock.answer(2)


def test_non_json_content_type_is_415(srv):
    for path in ("/chat", "/chat/stream"):
        for ctype in ("text/plain", "application/jsonx", "application/x-www-form-urlencoded"):
            r = post(srv.port, path, chat_body("hi"), ctype=ctype)
            assert r.status == 415, r.body
            assert isinstance(r.json()["error"], str)
        r = post(srv.port, path, chat_body("hi"), ctype=None)
        assert r.status == 415, r.body


@pytest.mark.parametrize("body, field", [
    (b'{"messages": [', "JSON"),
    # JSON text is UTF-8 (RFC 8259); a provider refuses anything else, and
    # that refusal would have come back as a 502.
    (b'{"messages": [{"role": "user", "content": "h\xff\xfei"}]}', "UTF-8"),
    (b'{"messages": [{"role": "user", "content": "\xed\xa0\x80"}]}', "UTF-8"),
    # One JSON value and nothing after it but whitespace.
    (b'{"messages": [{"role": "user", "content": "hi"}]} trailing', "JSON"),
    (b'{"messages": [{"role": "user", "content": "hi"}]}{"x": 1}', "JSON"),
    (b'[]', "object"),
    # RFC 8259 7: control characters must be escaped in a string, and only
    # space, tab, CR and LF separate tokens; cJSON alone lets both by.
    (b'{"messages": [{"role": "user", "content": "line\none"}]}',
     "raw control character U+000A in a string at byte 47"),
    (b'{"messages": [{"role": "user", "content": "a\x00b"}]}',
     "raw control character U+0000 in a string at byte 44"),
    (b'{"messages":\x0c[{"role": "user", "content": "hi"}]}',
     "raw control character U+000C between tokens at byte 12"),
    ({}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": 1, "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "hi"}]},
     "messages[1].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi"}], "context": 3}, "context"),
    ({"messages": [{"role": "user", "content": "hi"}], "context": {"overrides": 1}},
     "context.overrides"),
])
def test_bad_requests_name_the_field(srv, mock, body, field):
    for path in ("/chat", "/chat/stream"):
        r = post(srv.port, path, body)
        assert r.status == 400, (path, r.body)
        err = r.json()["error"]
        assert isinstance(err, str) and field in err, (field, err)
    assert mock.stats()["requests"] == 0


def test_utf8_and_trailing_whitespace_are_fine(srv, mock):
    body = json.dumps(chat_body(say("caf\u00e9 \U0001f642", tokens=2)),
                      ensure_ascii=False).encode()
    assert b"\xf0\x9f\x99\x82" in body     # raw UTF-8, not \u escapes
    r = post(srv.port, "/chat", body + b" \r\n\t\n")
    assert r.status == 200, r.body
    sent = mock.last()["json"]["messages"][-1]["content"]
    assert sent.startswith("caf\u00e9 \U0001f642"), sent


def test_unknown_role_names_it(srv):
    r = post(srv.port, "/chat/stream",
             {"messages": [{"role": "bot", "content": "hi"}]})
    assert r.status == 400 and "bot" in r.json()["error"]


def test_builtin_mock_provider(spawn):
    """The default provider: no network, mock_tokens tokens."""
    srv = spawn(config="workers = 1\nmock_tokens = 7\nmock_delay_ms = 1\n",
                test_build=False)
    r = post(srv.port, "/chat/stream", chat_body("hi"), timeout=10 * SLOW)
    assert r.status == 200 and r.complete, r.body
    lines = r.ndjson()
    assert lines[0]["delta"] == {"role": "assistant"}
    words = content_lines(lines)
    assert len(words) == 7 and all(words)
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 200
    assert r.json()["message"]["content"] == "".join(words)
    assert json.dumps(r.json()).count("assistant") == 1
