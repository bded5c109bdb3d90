"""The OpenAI-compatible gateway: SSE passed through byte for byte, whole
JSON replies, /v1/models, the Azure deployment path, gateway_keys, and
upstream errors in OpenAI's error shape.
"""
import json

import pytest

from upstream import (DEPLOYMENT, KEY, MODEL, get, mock, normalise_ids,  # noqa: F401
                      oai_body, post, say, serve, sse_events)

GW_KEYS = "gateway_keys = gk-one-111, gk-two-222\n"
AZ_PATH = "/openai/deployments/any-name/chat/completions?api-version=2024-10-21"


def direct(mock, path, body, azure=False):
    h = {"api-key": KEY} if azure else {"Authorization": "Bearer " + KEY}
    return post(mock.port, path, body, headers=h)


def oai_error(r, status):
    assert r.status == status, r.body
    err = r.json()["error"]
    assert {"message", "type", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"]
    return err


@pytest.fixture
def srv(spawn, mock):
    return serve(spawn, mock, "openai", conf="max_retries = 0\n")


@pytest.mark.parametrize("usage", [False, True])
def test_sse_passthrough_is_byte_identical(srv, mock, usage):
    extra = {"stream_options": {"include_usage": True}} if usage else {}
    body = oai_body(say("hello there", tokens=8, delay_ms=20), **extra)
    r = post(srv.port, "/v1/chat/completions", body)
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.complete
    sent = mock.last()["json"]
    assert sent["model"] == MODEL and sent["stream"] is True
    ref = direct(mock, "/v1/chat/completions", dict(body, model=MODEL))
    assert ref.status == 200
    assert normalise_ids(r.body) == normalise_ids(ref.body)
    evs = sse_events(r.body)
    assert evs[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                   for e in evs[:-1] if json.loads(e)["choices"])
    assert text == mock.answer(8)
    # events were written as they came, not collected
    times = [t for t, d in r.chunks if b'"content":"' in d]
    assert len(times) >= 8 and times[-1] - times[0] >= 0.1, r.chunks


def test_azure_deployment_path_passthrough(spawn, mock):
    srv = serve(spawn, mock, "azure", conf="max_retries = 0\n")
    body = oai_body(say("hi", tokens=5))
    del body["model"]
    r = post(srv.port, AZ_PATH, body)
    assert r.status == 200, r.body
    up = mock.last()
    assert up["path"] == "/openai/deployments/%s/chat/completions" % DEPLOYMENT
    assert up["query"] == "api-version=2024-10-21" and "model" not in up["json"]
    ref = direct(mock, up["path"] + "?" + up["query"], body, azure=True)
    assert normalise_ids(r.body) == normalise_ids(ref.body)
    assert sse_events(r.body)[-1] == "[DONE]"


def test_azure_path_needs_api_version(srv, mock):
    r = post(srv.port, "/openai/deployments/d/chat/completions", oai_body("hi"))
    oai_error(r, 400)
    assert "api-version" in r.json()["error"]["message"]
    assert mock.stats()["requests"] == 0


def test_non_streaming_json_whole(srv, mock):
    body = oai_body(say("hi", tokens=6), stream=False)
    r = post(srv.port, "/v1/chat/completions", body)
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/json")
    reply = r.json()
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == mock.answer(6)
    ref = direct(mock, "/v1/chat/completions", dict(body, model=MODEL))
    assert normalise_ids(r.body) == normalise_ids(ref.body)


def test_models(srv):
    r = get(srv.port, "/v1/models")
    assert r.status == 200
    body = r.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [MODEL]
    assert all(m["object"] == "model" for m in body["data"])


def test_bad_body(srv, mock):
    oai_error(post(srv.port, "/v1/chat/completions", b"{nope"), 400)
    oai_error(post(srv.port, "/v1/chat/completions", {"model": "m"}), 400)
    body = json.dumps(oai_body("hi")).encode()
    oai_error(post(srv.port, "/v1/chat/completions", body.replace(b"hi", b"h\xffi")), 400)
    oai_error(post(srv.port, "/v1/chat/completions", body + b"{}"), 400)
    for path in ("/v1/chat/completions", "/v1/responses", "/v1/embeddings"):
        err = oai_error(post(srv.port, path, b'{"model": "m", "input": "a\tb"}'),
                        400)
        assert ("raw control character U+0009 in a string at byte 26"
                in err["message"]), err
    oai_error(post(srv.port, "/v1/chat/completions", oai_body("hi"), ctype="text/plain"), 415)
    assert mock.stats()["requests"] == 0


@pytest.mark.parametrize("messages, code, param", [
    (None, "missing_required_parameter", "messages"),
    ([], "empty_array", "messages"),
    ([{"role": 1, "content": "hi"}], "invalid_type", "messages[0].role"),
    ([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}],
     "invalid_value", "messages[1].role"),
    ([{"role": "user", "content": {"text": "hi"}}], "invalid_type",
     "messages[0].content"),
    ([{"role": "user", "content": ["hi"]}], "invalid_type",
     "messages[0].content[0]"),
])
def test_bad_messages_answered_as_openai(srv, mock, messages, code, param):
    body = oai_body("hi")
    if messages is None:
        del body["messages"]
    else:
        body["messages"] = messages
    for path in ("/v1/chat/completions", AZ_PATH):
        err = oai_error(post(srv.port, path, body), 400)
        assert err["type"] == "invalid_request_error", err
        assert (err["code"], err["param"]) == (code, param), err
        # OpenAI's invalid_value text names the value, the others the param
        assert ("'bot'" if code == "invalid_value" else param) in err["message"]
    assert mock.stats()["requests"] == 0


def test_messages_openai_accepts_are_forwarded(srv, mock):
    msgs = [{"role": "developer", "content": [{"type": "text", "text": "d"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": "data:,"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "user", "content": say("hi", tokens=2)}]
    r = post(srv.port, "/v1/chat/completions",
             dict(oai_body("hi", stream=False), messages=msgs))
    assert r.status == 200, r.body
    assert mock.last()["json"]["messages"] == msgs


# ---- gateway_keys ---------------------------------------------------------------

@pytest.fixture
def locked(spawn, mock):
    return serve(spawn, mock, "openai", conf=GW_KEYS)


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer gk-one-111"}, {"api-key": "gk-two-222"},
    {"Authorization": "bearer gk-two-222"}])
def test_gateway_key_accepted(locked, mock, headers):
    r = post(locked.port, "/v1/chat/completions", oai_body(say("hi", tokens=2)),
             headers=headers)
    assert r.status == 200, r.body
    up = mock.last()["headers"]
    assert up["authorization"] == "Bearer " + KEY       # the server's own key
    assert "gk-" not in json.dumps(up)
    assert get(locked.port, "/v1/models", headers=headers).status == 200


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer gk-one-11"}, {"Authorization": "Bearer gk-one-1111"},
    {"api-key": "gk-one-111x"}, {"Authorization": "Basic gk-one-111"},
    {"api-key": ""}])
def test_gateway_key_refused(locked, mock, headers):
    for path, body in (("/v1/chat/completions", oai_body("hi")),
                       (AZ_PATH, oai_body("hi"))):
        r = post(locked.port, path, body, headers=headers)
        err = oai_error(r, 401)
        assert "gk-one-111" not in r.body.decode()
        assert err["type"] and err["code"]
    oai_error(get(locked.port, "/v1/models", headers=headers), 401)
    assert mock.stats()["requests"] == 0


# ---- upstream errors in OpenAI's shape -----------------------------------------

def test_429_in_openai_shape(srv, mock):
    r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", fault="429:ms=3000")))
    err = oai_error(r, 429)
    assert r.headers.get("retry-after") == "3"
    assert err["code"] == "rate_limit_exceeded"


def test_401_upstream_is_502_without_key(srv, mock):
    r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", fault=401)))
    oai_error(r, 502)
    assert KEY not in r.body.decode()


def test_content_filter_in_openai_shape(srv, mock):
    r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", fault="content_filter")))
    err = oai_error(r, 400)
    assert err["code"] == "content_filter"


def test_cut_mid_stream_ends_with_an_error_event(srv, mock):
    r = post(srv.port, "/v1/chat/completions",
             oai_body(say("hi", tokens=10, fault="cut:after=3")))
    assert r.status == 200 and r.complete, r.body[-300:]
    evs = sse_events(r.body)
    last = json.loads(evs[-1])
    assert set(last) == {"error"} and last["error"]["message"], last
    assert "[DONE]" not in evs
    content = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                      for e in evs[:-1] if json.loads(e).get("choices"))
    assert content == mock.answer(3)


@pytest.mark.parametrize("query, ok", [
    ("api-version=", False), ("xapi-version=2024-10-21", False),
    ("foo=api-version=1", False), ("foo=1&api-version=2024-10-21", True)])
def test_azure_path_api_version_parsing(srv, mock, query, ok):
    r = post(srv.port, "/openai/deployments/d/chat/completions?" + query,
             oai_body(say("hi", tokens=2), stream=False))
    if ok:
        assert r.status == 200, r.body
    else:
        oai_error(r, 400)


def test_gateway_with_builtin_mock(spawn):
    srv = spawn(config="workers = 1\nmock_tokens = 4\nmock_delay_ms = 1\n",
                test_build=False)
    r = post(srv.port, "/v1/chat/completions", oai_body("hi"))
    assert r.status == 200 and r.complete, r.body
    evs = sse_events(r.body)
    assert evs[-1] == "[DONE]"
    words = [json.loads(e)["choices"][0]["delta"].get("content", "")
             for e in evs[:-1] if json.loads(e)["choices"]]
    assert len([w for w in words if w]) == 4
    r = post(srv.port, "/v1/chat/completions", oai_body("hi", stream=False))
    assert r.json()["choices"][0]["message"]["content"] == "".join(words)
