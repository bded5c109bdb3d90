"""The mock upstream (build/llmfork-mock): framing as OpenAI and Azure send
it, the per-request controls, every fault, the counters, and 1,000
concurrent streams. Self-contained: starts its own mock on a free loopback
port (--port-file) and stops it.
"""
import asyncio
import http.client
import json
import resource
import signal
import socket
import time

import pytest

import upstream

KEY = "sk-mock-test-key-1234"
WORDS = ["Hello!", "I", "am", "the", "llmfork", "mock", "model.", "Here", "is",
         '"quoted"', "text,", "a", "back\\slash,", "a", "tab\tand", "a",
         "new\nline;", "caf\u00e9", "\U0001f642", "done."]
OPENAI = "/v1/chat/completions"
AZURE = "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"
AZURE_V1 = "/openai/v1/chat/completions"
MSGS = [{"role": "system", "content": "be brief"},
        {"role": "user", "content": "say  hello\nplease"}]


def answer(n):
    return " ".join(WORDS[i % len(WORDS)] for i in range(n))


class Mock(upstream.Mock):
    """The mock with raw http.client requests, as the SDKs send them."""

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post(self, path, body, headers=None, auth=True, timeout=10):
        h = {"Content-Type": "application/json"}
        if auth:
            h["api-key" if path.startswith("/openai/") else "Authorization"] = (
                KEY if path.startswith("/openai/") else "Bearer " + KEY)
        h.update(headers or {})
        c = self.conn(timeout)
        c.request("POST", path, json.dumps(body), h)
        r = c.getresponse()
        return r, c

    def call(self, path, body, headers=None, auth=True):
        r, c = self.post(path, body, headers, auth)
        data = r.read()
        c.close()
        return r, data

    def wait_stats(self, key, value, timeout=5):
        deadline = time.monotonic() + timeout
        while self.stats()[key] != value:
            assert time.monotonic() < deadline, (key, value, self.stats())
            time.sleep(0.02)


@pytest.fixture
def mock(tmp_path):
    m = Mock(tmp_path, keys=(KEY, "second-key"))
    yield m
    rc = m.stop()
    log = m.log
    assert rc == 0, log
    assert "Sanitizer" not in log and "runtime error" not in log, log


def events(data):
    """SSE events of a whole body; asserts the framing: data lines only,
    each event ended by a blank line."""
    text = data.decode()
    assert text.endswith("\n\n")
    out = []
    for ev in text[:-2].split("\n\n"):
        assert ev.startswith("data: ") and "\n" not in ev, ev
        out.append(ev[6:])
    return out


def stream_body(**extra):
    return dict({"model": "gpt-4o-mini", "messages": MSGS, "stream": True}, **extra)


def test_openai_stream_framing(mock):
    r, data = mock.call(OPENAI + "?tokens=20", stream_body(
        stream_options={"include_usage": True}))
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert r.getheader("x-request-id").startswith("req_")
    assert r.getheader("x-ratelimit-remaining-requests")
    evs = events(data)
    assert evs[-1] == "[DONE]"
    chunks = [json.loads(e) for e in evs[:-1]]
    assert len(chunks) == 1 + 20 + 1 + 1
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "gpt-4o-mini"
        assert list(c)[:2] == ["id", "object"]
    role, toks, fin, usage = chunks[0], chunks[1:21], chunks[21], chunks[22]
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                           "refusal": None}
    assert "".join(c["choices"][0]["delta"]["content"] for c in toks) == answer(20)
    assert all(c["choices"][0]["finish_reason"] is None for c in [role] + toks)
    assert all(c["usage"] is None for c in chunks[:22])
    assert fin["choices"][0]["delta"] == {}
    assert fin["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 20
    assert usage["usage"]["prompt_tokens"] == 5     # be brief say hello please
    assert usage["usage"]["total_tokens"] == 25


def test_stream_without_usage_has_no_usage_key(mock):
    r, data = mock.call("/chat/completions?tokens=3", stream_body())
    chunks = [json.loads(e) for e in events(data)[:-1]]
    assert len(chunks) == 5
    assert all("usage" not in c for c in chunks)


def test_azure_stream_framing(mock):
    r, data = mock.call(AZURE + "&tokens=4", {"messages": MSGS, "stream": True})
    assert r.status == 200
    assert r.getheader("apim-request-id")
    evs = events(data)
    assert evs[-1] == "[DONE]"
    chunks = [json.loads(e) for e in evs[:-1]]
    first = chunks[0]
    assert first["choices"] == [] and first["id"] == "" and first["object"] == ""
    assert first["prompt_filter_results"][0]["prompt_index"] == 0
    role, toks, fin = chunks[1], chunks[2:6], chunks[6]
    assert len(chunks) == 7
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert role["model"] == "dep-1"
    for c in toks:
        ch = c["choices"][0]
        assert ch["content_filter_results"]["hate"] == {"filtered": False,
                                                        "severity": "safe"}
        assert list(c) == sorted(c)
    assert "".join(c["choices"][0]["delta"]["content"] for c in toks) == answer(4)
    assert fin["choices"][0]["finish_reason"] == "stop"


def test_azure_v1_needs_model_and_takes_it(mock):
    r, data = mock.call(AZURE_V1 + "?tokens=2", {"messages": MSGS})
    assert r.status == 400
    r, data = mock.call(AZURE_V1 + "?tokens=2", {"model": "dep-2", "messages": MSGS})
    body = json.loads(data)
    assert r.status == 200 and body["model"] == "dep-2"
    assert body["choices"][0]["message"]["content"] == answer(2)
    assert "prompt_filter_results" in body


def test_non_streaming_reply(mock):
    r, data = mock.call(OPENAI + "?tokens=7", {"model": "m1", "messages": MSGS})
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/json"
    body = json.loads(data)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    ch = body["choices"][0]
    assert ch["message"]["role"] == "assistant"
    assert ch["message"]["content"] == answer(7)
    assert ch["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 7
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 7
    assert mock.get("/_mock/answer?tokens=7")["content"] == answer(7)


def test_max_tokens_finishes_with_length(mock):
    r, data = mock.call(AZURE + "&tokens=9", {"messages": MSGS, "max_tokens": 3})
    body = json.loads(data)
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["content_filter_results"]
    assert body["choices"][0]["message"]["content"] == answer(3)


def test_auth(mock):
    r, data = mock.call(OPENAI, stream_body(), auth=False)
    assert r.status == 401 and json.loads(data)["error"]["type"] == "invalid_request_error"
    r, data = mock.call(OPENAI, stream_body(),
                        {"Authorization": "Bearer sk-wrong-key-5678"}, auth=False)
    err = json.loads(data)["error"]
    assert r.status == 401 and err["code"] == "invalid_api_key"
    assert "5678" in err["message"] and "sk-wrong-key-5678" not in err["message"]
    r, data = mock.call(AZURE, stream_body(), {"api-key": "nope"}, auth=False)
    err = json.loads(data)["error"]
    assert r.status == 401 and err["code"] == "401"
    assert err["message"].startswith("Access denied due to invalid subscription key")
    r, data = mock.call(AZURE + "&tokens=1", {"messages": MSGS},
                        {"Authorization": "Bearer second-key"}, auth=False)
    assert r.status == 200
    r, data = mock.call(OPENAI + "?tokens=1", {"model": "m", "messages": MSGS},
                        {"api-key": KEY}, auth=False)
    assert r.status == 401          # OpenAI ignores api-key


def test_azure_needs_api_version(mock):
    r, data = mock.call("/openai/deployments/d/chat/completions", stream_body())
    assert r.status == 404
    assert json.loads(data) == {"error": {"code": "404", "message": "Resource not found"}}


def test_bad_requests(mock):
    r, data = mock.call(OPENAI, {"model": "m"})
    assert r.status == 400 and json.loads(data)["error"]["param"] == "messages"
    c = mock.conn()
    c.request("POST", OPENAI, "{not json", {"Authorization": "Bearer " + KEY})
    r = c.getresponse()
    assert r.status == 400 and "parse the JSON" in json.loads(r.read())["error"]["message"]
    r, data = mock.call("/v1/nothing", stream_body())
    assert r.status == 404
    r, data = mock.call(OPENAI, stream_body(), {"x-mock-fault": "nonsense"})
    assert r.status == 400


@pytest.mark.parametrize("path", [OPENAI, AZURE])
def test_429_fault(mock, path):
    r, data = mock.call(path, stream_body(), {"x-mock-fault": "429:ms=2500"})
    assert r.status == 429 and r.reason == "Too Many Requests"
    assert r.getheader("retry-after") == "3"
    assert r.getheader("retry-after-ms") == "2500"
    err = json.loads(data)["error"]
    if path == OPENAI:
        assert err["code"] == "rate_limit_exceeded" and "type" in err
    else:
        assert err["code"] == "429" and "retry after" in err["message"]
    r, data = mock.call(path.replace("?", "?fault=429&") if "?" in path
                        else path + "?fault=429", stream_body())
    assert r.status == 429 and r.getheader("retry-after-ms") == "1000"


@pytest.mark.parametrize("status", [500, 503, 401, 502, 408])
def test_status_faults(mock, status):
    r, data = mock.call(OPENAI, stream_body(), {"x-mock-fault": str(status)})
    assert r.status == status
    err = json.loads(data)["error"]
    assert err["message"] and "type" in err and "code" in err
    r, data = mock.call(AZURE, stream_body(), {"x-mock-fault": str(status)})
    assert r.status == status and set(json.loads(data)["error"]) == {"code", "message"}


def test_content_filter_fault(mock):
    r, data = mock.call(AZURE, stream_body(), {"x-mock-fault": "content_filter"})
    assert r.status == 400
    err = json.loads(data)["error"]
    assert err["code"] == "content_filter" and err["param"] == "prompt"
    assert err["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert err["innererror"]["content_filter_result"]["sexual"]["filtered"] is True


def test_fail_count_then_success(mock):
    h = {"x-mock-fault": "503", "x-mock-fail-count": "2", "x-mock-fault-key": "k1"}
    statuses = [mock.call(OPENAI + "?tokens=2", stream_body(), h)[0].status
                for _ in range(3)]
    assert statuses == [503, 503, 200]
    # another key has its own count; the query form works the same
    r, _ = mock.call(OPENAI + "?fault=429&fail_count=1&fault_key=k2", stream_body())
    assert r.status == 429
    r, _ = mock.call(OPENAI + "?fault=429&fail_count=1&fault_key=k2&tokens=1",
                     stream_body())
    assert r.status == 200
    s = mock.stats()
    assert s["faults"] == 3 and s["errors"] == 3


def test_cut_fault(mock):
    r, c = mock.post(OPENAI + "?tokens=10", stream_body(), {"x-mock-fault": "cut:after=3"})
    assert r.status == 200
    with pytest.raises(http.client.IncompleteRead) as e:
        r.read()
    evs = events(e.value.partial)
    assert len(evs) == 4 and "[DONE]" not in evs      # role + 3 tokens
    toks = [json.loads(x)["choices"][0]["delta"]["content"] for x in evs[1:]]
    assert "".join(toks) == answer(3)
    c.close()
    mock.wait_stats("active", 0)
    assert mock.stats()["cancelled"] == 0


def test_malformed_fault(mock):
    r, data = mock.call(OPENAI + "?tokens=6", stream_body(),
                        {"x-mock-fault": "malformed:after=2"})
    evs = events(data)
    assert evs[-1] == "[DONE]"
    bad = []
    for e in evs[:-1]:
        try:
            json.loads(e)
        except ValueError:
            bad.append(e)
    assert len(bad) == 1 and len(evs) == 1 + 6 + 1 + 1


def raw_post(port, path, body, headers=b""):
    """Sends a request on a plain socket, reads nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = json.dumps(body).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n"
              % (path.encode(), headers, len(data)) + data)
    return s


def recv_until(s, marker):
    got = b""
    while marker not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return got


def test_stall_fault_and_cancel_count(mock):
    s = raw_post(mock.port, AZURE + "&fault=stall", stream_body(),
                 b"api-key: " + KEY.encode() + b"\r\n")
    recv_until(s, b'"role":"assistant"')
    s.settimeout(0.4)
    with pytest.raises(socket.timeout):
        s.recv(65536)                      # nothing more arrives
    assert mock.stats()["active"] == 1
    s.close()
    mock.wait_stats("cancelled", 1)
    assert mock.stats()["active"] == 0


@pytest.mark.parametrize("stream", [True, False])
def test_client_gone_is_cancelled(mock, stream):
    s = raw_post(mock.port, OPENAI + "?tokens=20&delay_ms=100&ttft_ms=50",
                 stream_body(stream=stream),
                 b"Authorization: Bearer " + KEY.encode() + b"\r\n")
    if stream:
        recv_until(s, b'"content":"Hello!"')    # mid-stream
    else:
        time.sleep(0.2)                         # waiting for the whole reply
    assert mock.stats()["active"] == 1
    s.close()
    mock.wait_stats("cancelled", 1, timeout=1)
    st = mock.stats()
    assert st["active"] == 0 and st["completed"] == 0


def test_timing_controls(mock):
    t = time.monotonic()
    r, data = mock.call(OPENAI, stream_body(),
                        {"x-mock-tokens": "4", "x-mock-delay-ms": "50",
                         "x-mock-ttft-ms": "200"})
    took = time.monotonic() - t
    assert len(events(data)) == 1 + 4 + 1 + 1
    assert 0.4 <= took < 3.0                   # 200 + 4 x 50 ms
    # the header wins over the query parameter
    r, data = mock.call(OPENAI + "?tokens=9", stream_body(), {"x-mock-tokens": "2"})
    assert len(events(data)) == 1 + 2 + 1 + 1


def test_requests_are_recorded(mock):
    mock.call(AZURE + "&tokens=1", {"messages": MSGS, "stream": False},
              {"X-Custom-Thing": "yes"})
    last = mock.stats()["last_request"]
    assert last["method"] == "POST"
    assert last["path"] == "/openai/deployments/dep-1/chat/completions"
    assert "api-version=2024-10-21" in last["query"]
    assert last["headers"]["x-custom-thing"] == "yes"
    assert last["headers"]["api-key"] == KEY
    assert last["json"]["messages"] == MSGS
    for _ in range(25):
        mock.call(OPENAI + "?tokens=0", {"model": "m", "messages": MSGS})
    reqs = mock.get("/_mock/requests")
    assert len(reqs) == 20 and all(q["path"] == OPENAI for q in reqs)
    s = mock.stats()
    assert s["by_path"][OPENAI] == 25 and s["requests"] == 26
    c = mock.conn()
    c.request("POST", "/_mock/reset", "")
    assert json.loads(c.getresponse().read())["requests"] == 0
    assert mock.stats()["last_request"] is None


async def _stream(port, n_tokens):
    body = json.dumps(stream_body()).encode()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"POST /v1/chat/completions?tokens=%d&delay_ms=10 HTTP/1.1\r\n"
            b"Host: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
            % (n_tokens, KEY.encode(), len(body)) + body)
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = await r.read(65536)
        if not chunk:
            break
        data += chunk
    w.close()
    return data


def test_1000_concurrent_streams(mock):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    async def run():
        return await asyncio.wait_for(asyncio.gather(
            *[_stream(mock.port, 20) for _ in range(1000)]), 60)
    results = asyncio.run(run())
    want = json.dumps(answer(20))[1:-1].encode()
    for data in results:
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert rest.count(b'"content":"') == 21 and rest.count(b"data: [DONE]") == 1
    # content of one, de-chunked
    one = results[0].partition(b"\r\n\r\n")[2]
    text = b"".join(one.split(b"\r\n")[1::2])
    got = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                  for e in events(text)[:-1])
    assert json.dumps(got)[1:-1].encode() == want
    s = mock.stats()
    assert s["completed"] == 1000 and s["active"] == 0 and s["cancelled"] == 0


def test_sigterm_with_streams_in_flight(tmp_path):
    m = Mock(tmp_path, keys=())
    r, c = m.post(OPENAI + "?tokens=100&delay_ms=100", stream_body(), auth=False)
    r.fp.readline()
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(10) == 0
    m.stop()
    assert "Sanitizer" not in m.log, m.log
    c.close()
