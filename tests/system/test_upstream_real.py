"""Fidelity to what Azure OpenAI and OpenAI really send, not to the mock's
habits: a raw upstream (rawup.py) answers with verbatim bytes, and each
route must give its client the answer or a clear error.
"""
import gzip
import json
import threading

import pytest

from rawup import RawUpstream, chunked, head, sse, whole
from upstream import chat_body, get, oai_body, post, serve

CFR = {"hate": {"filtered": False, "severity": "safe"},
       "self_harm": {"filtered": False, "severity": "safe"},
       "sexual": {"filtered": False, "severity": "safe"},
       "violence": {"filtered": False, "severity": "safe"}}
# Azure's first chunk: no choices, the prompt's filter results.
PROMPT_FILTER = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                 "prompt_filter_results": [{"prompt_index": 0,
                                            "content_filter_results": CFR}]}
USAGE = {"choices": [], "created": 1727300000, "id": "chatcmpl-AB",
         "model": "gpt-4o-2024-08-06", "object": "chat.completion.chunk",
         "usage": {"completion_tokens": 3, "prompt_tokens": 9, "total_tokens": 12}}
WORDS = ("Hel", "lo ", "wörld 🌍")


def chunk(delta, finish=None, cfr=CFR):
    """An Azure chat.completion.chunk with one choice."""
    return {"choices": [{"content_filter_results": cfr, "delta": delta,
                         "finish_reason": finish, "index": 0, "logprobs": None}],
            "created": 1727300000, "id": "chatcmpl-AB",
            "model": "gpt-4o-2024-08-06", "object": "chat.completion.chunk",
            "system_fingerprint": "fp_1"}


def azure_stream(words=WORDS):
    """An Azure stream with include_usage, event by event."""
    return ([sse(PROMPT_FILTER),
             sse(chunk({"content": "", "refusal": None, "role": "assistant"}, cfr={}))] +
            [sse(chunk({"content": w})) for w in words] +
            [sse(chunk({}, "stop", cfr={})), sse(USAGE), b"data: [DONE]\n\n"])


def completion(message, finish="stop"):
    return {"choices": [{"finish_reason": finish, "index": 0, "logprobs": None,
                         "message": message}],
            "created": 1727300000, "id": "chatcmpl-AB", "model": "gpt-4o-2024-08-06",
            "object": "chat.completion",
            "usage": {"completion_tokens": 2, "prompt_tokens": 9, "total_tokens": 11}}


def start(spawn, response, pieces=(), provider="azure"):
    up = RawUpstream(response, pieces)
    return serve(spawn, up, provider, conf="max_retries = 0\n"), up


def contents(r):
    lines = r.ndjson()
    assert lines[0]["delta"] == {"role": "assistant"}, lines
    assert all("error" not in l for l in lines), lines
    return "".join(l["delta"].get("content", "") for l in lines[1:])


# ---- Content-Encoding -------------------------------------------------------

def test_gzip_stream_is_decoded(spawn):
    """A server may compress without being asked (RFC 9110 12.5.3): the
    stream is decoded before it is parsed."""
    srv, up = start(spawn, head(extra=["Content-Encoding: gzip"]),
                    chunked([gzip.compress(b"".join(azure_stream()))]))
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 200 and r.complete, r.body
    assert contents(r) == "".join(WORDS)


def test_gzip_whole_answer_is_decoded(spawn):
    msg = {"role": "assistant", "content": "Hi there", "refusal": None}
    srv, up = start(spawn, whole(200, completion(msg), "OK", gz=True))
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 200, r.body
    assert r.json()["message"]["content"] == "Hi there"
    r = post(srv.port, "/v1/chat/completions", oai_body("hi", stream=False))
    assert r.status == 200, r.body
    assert r.json()["choices"][0]["message"]["content"] == "Hi there"
    head = up.requests[-1][0].lower()
    assert b"accept-encoding: identity\r\n" in head and head.count(b"accept-encoding") == 1, head


# ---- what the model says instead of content ---------------------------------

REFUSAL = "I'm sorry, I can't help with that."


def test_refusal_stream_is_the_answer(spawn):
    """OpenAI streams a refusal in delta.refusal with content null: the
    client gets its text, not an empty answer."""
    srv, up = start(spawn, head(), chunked([
        sse(chunk({"role": "assistant", "content": None, "refusal": ""})),
        sse(chunk({"content": None, "refusal": REFUSAL[:9]})),
        sse(chunk({"refusal": REFUSAL[9:]})),
        sse(chunk({}, "stop")), b"data: [DONE]\n\n"]), provider="openai")
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 200 and r.complete, r.body
    assert contents(r) == REFUSAL


def test_refusal_whole_is_the_answer(spawn):
    msg = {"role": "assistant", "content": None, "refusal": REFUSAL}
    srv, up = start(spawn, whole(200, completion(msg), "OK"), provider="openai")
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 200, r.body
    assert r.json()["message"]["content"] == REFUSAL


@pytest.mark.parametrize("content", [None, "The start of"])
def test_answer_filtered_whole(spawn, content):
    """Azure's non-streaming answer stopped by the output filter: no content
    (or its start) and finish_reason content_filter. The client hears it
    was filtered, as a stream's client does, not 'no content' nor a cut
    answer as if whole."""
    msg = {"role": "assistant"}
    if content:
        msg["content"] = content
    body = completion(msg, "content_filter")
    body["choices"][0]["content_filter_results"] = {
        "hate": {"filtered": True, "severity": "high"}}
    srv, up = start(spawn, whole(200, body, "OK"))
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 400, r.body
    assert "content filter" in r.json()["error"], r.body


def test_answer_filtered_stream(spawn):
    srv, up = start(spawn, head(), chunked(azure_stream()[:3] + [
        sse(chunk({}, "content_filter", cfr={"hate": {"filtered": True,
                                                      "severity": "high"}})),
        b"data: [DONE]\n\n"]))
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 200 and r.complete, r.body
    lines = r.ndjson()
    assert lines[1]["delta"]["content"] == WORDS[0]
    assert "content filter" in lines[-1]["error"], lines


# ---- the gateway: what the openai SDKs read --------------------------------

RATE_LIMITED = {"error": {"code": "429", "message": "Requests to the "
                          "ChatCompletions_Create Operation under Azure OpenAI API "
                          "version 2024-10-21 have exceeded token rate limit. "
                          "Please retry after 6 seconds."}}


@pytest.mark.parametrize("kind", ["stream", "whole", "error", "azure"])
def test_gateway_passes_the_request_id(spawn, kind):
    """The SDKs keep x-request-id as the response's _request_id; Azure's
    answers carry apim-request-id."""
    ids = ["x-request-id: req-7f3a", "apim-request-id: apim-9c1d"]
    if kind == "stream":
        srv, up = start(spawn, head(extra=ids), chunked(azure_stream()))
    elif kind == "whole":
        srv, up = start(spawn, whole(200, completion({"role": "assistant",
                                                      "content": "Hi"}), "OK",
                                     extra=ids))
    elif kind == "error":
        srv, up = start(spawn, whole(429, RATE_LIMITED, "Too Many Requests",
                                     extra=ids + ["retry-after: 6"]))
    else:
        srv, up = start(spawn, whole(200, completion({"role": "assistant",
                                                      "content": "Hi"}), "OK",
                                     extra=ids[1:]))
    r = post(srv.port, "/v1/chat/completions",
             oai_body("hi", stream=kind == "stream"))
    assert r.status == (429 if kind == "error" else 200), r.body
    assert r.headers.get("x-request-id") == ("apim-9c1d" if kind == "azure"
                                             else "req-7f3a"), r.headers


# OpenAI's answer to a prompt past the context window (openai-python's
# tests and API reference: BadRequestError, code context_length_exceeded).
TOO_LONG = {"error": {"message": "This model's maximum context length is 128000 "
                      "tokens. However, your messages resulted in 130512 tokens. "
                      "Please reduce the length of the messages.",
                      "type": "invalid_request_error", "param": "messages",
                      "code": "context_length_exceeded"}}


def test_gateway_keeps_the_providers_code_and_param(spawn):
    """SDK users branch on error.code (context_length_exceeded) and read
    error.param: a 400's are the provider's, not the gateway's own."""
    srv, up = start(spawn, whole(400, TOO_LONG, "Bad Request"), provider="openai")
    r = post(srv.port, "/v1/chat/completions", oai_body("hi", stream=False))
    assert r.status == 400, r.body
    err = r.json()["error"]
    assert (err["code"], err["param"], err["type"]) == (
        "context_length_exceeded", "messages", "invalid_request_error"), err
    assert "maximum context length" in err["message"], err


def test_gateway_passes_retry_after_ms_on_a_429(spawn):
    """The SDKs wait retry-after-ms (finer than Retry-After) before retrying."""
    srv, up = start(spawn, whole(429, RATE_LIMITED, "Too Many Requests",
                                 extra=["retry-after-ms: 1500", "retry-after: 2"]))
    r = post(srv.port, "/v1/chat/completions", oai_body("hi", stream=False))
    assert r.status == 429, r.body
    assert r.headers.get("retry-after-ms") == "1500", r.headers
    assert r.headers.get("retry-after") == "2", r.headers
    assert r.json()["error"]["param"] is None, r.body


def test_gateway_serves_azures_v1_paths(spawn):
    """OpenAI(base_url="https://R.openai.azure.com/openai/v1/") calls
    /openai/v1/chat/completions and /openai/v1/models."""
    srv, up = start(spawn, head(), chunked(azure_stream()), provider="azure-v1")
    r = post(srv.port, "/openai/v1/chat/completions", oai_body("hi"))
    assert r.status == 200 and b"[DONE]" in r.body, r.body
    assert up.requests[-1][0].startswith(b"POST /openai/v1/chat/completions "), up.requests
    r = get(srv.port, "/openai/v1/models")
    assert r.status == 200 and r.json()["object"] == "list", r.body


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat"])
def test_answer_past_the_body_bound(spawn, path):
    """A whole answer past RELAY_BODY_MAX (4 MiB: long logprobs do it) is
    an error, not its first 4 MiB sent as a 200 (invalid JSON)."""
    msg = {"role": "assistant", "content": "x" * (5 << 20)}
    srv, up = start(spawn, whole(200, completion(msg), "OK"), provider="openai")
    body = oai_body("hi", stream=False) if path.startswith("/v1") else chat_body("hi")
    r = post(srv.port, path, body)
    assert r.status == 502, (r.status, r.body[:200])
    err = r.json()["error"]
    assert "larger" in (err["message"] if isinstance(err, dict) else err), err


# ---- the end of a stream ----------------------------------------------------

def test_stream_ends_at_done_while_the_upstream_lingers(spawn):
    """data: [DONE] ends the answer: the client's stream ends then, whole,
    while the upstream still holds its response open (a proxy may), not
    after an idle timeout with an error line."""
    hold = threading.Event()
    pieces = chunked(azure_stream())
    srv, up = start(spawn, head(), pieces[:-1] + [hold, pieces[-1]])
    try:
        r = post(srv.port, "/chat/stream", chat_body("hi"), timeout=10)
    finally:
        hold.set()
    assert r.status == 200 and r.complete, r.body
    assert contents(r) == "".join(WORDS)
    # the call ran out behind it; the worker goes on serving
    up.pieces = pieces
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert contents(r) == "".join(WORDS)
