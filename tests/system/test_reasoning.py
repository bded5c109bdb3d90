"""Reasoning models through the chat app: the mock streams DeepSeek-R1's
"<think>...</think>" inside the content (tags cut across chunks) or the
DeepSeek API's delta.reasoning_content; llmfork sends the thinking as
{"delta":{"role":"assistant","context":{"thoughts":...}}} lines and the
answer alone in delta.content.
"""
import pytest

from upstream import Mock, chat_body, mock, post, say, serve  # noqa: F401

# tests/mock/script.c's thinking text.
THINKING = "The user wants an answer. I will give the canned one."


@pytest.fixture
def srv(spawn, mock):
    return serve(spawn, mock, "azure")


def split(lines):
    thoughts = "".join(l["delta"]["context"]["thoughts"] for l in lines[1:]
                       if "context" in l.get("delta", {}))
    content = "".join(l["delta"].get("content", "") for l in lines[1:])
    return thoughts, content


@pytest.mark.parametrize("shape", ["think", "field"])
def test_stream_splits_thinking_from_answer(srv, mock, shape):
    r = post(srv.port, "/chat/stream",
             chat_body(say("hi", tokens=6, delay_ms=2, reasoning=shape)))
    assert r.status == 200, r.body
    lines = r.ndjson()
    assert lines[0]["delta"] == {"role": "assistant"}
    thoughts, content = split(lines)
    # R1 ends its thinking with a newline before </think>; it is kept
    assert thoughts.rstrip("\n") == THINKING
    assert content == mock.answer(6)
    # every thinking line comes before the first answer line
    kinds = ["t" if "context" in l["delta"] else "c" for l in lines[1:]]
    assert kinds == sorted(kinds, key=lambda k: k == "c"), kinds
    assert all(l["delta"]["role"] == "assistant" for l in lines)
    assert "<think>" not in r.body.decode() and "think>" not in content


@pytest.mark.parametrize("shape", ["think", "field"])
def test_whole_answer_has_thoughts_in_message_context(srv, mock, shape):
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=4, reasoning=shape)))
    assert r.status == 200, r.body
    msg = r.json()["message"]
    assert msg["content"] == mock.answer(4)
    assert msg["context"]["thoughts"].rstrip("\n") == THINKING


def test_plain_model_has_no_thoughts(srv, mock):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=5)))
    thoughts, content = split(r.ndjson())
    assert thoughts == "" and content == mock.answer(5)
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=5)))
    assert "context" not in r.json()["message"]
