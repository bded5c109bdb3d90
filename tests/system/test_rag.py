"""RAG over Azure AI Search (rag = search): the azure-search-openai-demo
flow through the real binary, with the mock as the model, the embeddings
API and the search service (tests/mock/index.json). The mock's request log
shows each step: the rewrite call, the embeddings call (in parallel), the
search with the expected body, then the answer call with the sources.
"""
import json
import os
import socket
import time

import pytest

import util
from upstream import (DEPLOYMENT, KEY, Mock, chat_body, open_request, post,
                      read_reply, say, serve)
from util import SLOW

INDEX = os.path.join(util.ROOT, "tests", "mock", "index.json")
QUESTION = "What does the Health Plus plan cover for emergency services?"
QUERY = QUESTION                # the mock's rewrite: the question, brackets gone
TOP_SOURCE = "Benefit_Options-2.pdf"


def stop_clean(m):
    rc = m.stop()
    assert "Sanitizer" not in m.log and "runtime error" not in m.log, m.log
    assert rc == 0, m.log


@pytest.fixture
def smock(tmp_path):
    m = Mock(tmp_path, "--index", INDEX, name="smock")
    yield m
    stop_clean(m)


def rag_env(mock, **extra):
    env = {"LLMFORK_RAG": "search", "AZURE_SEARCH_ENDPOINT": mock.url,
           "AZURE_SEARCH_INDEX": "gptkbindex", "AZURE_SEARCH_KEY": KEY,
           "AZURE_OPENAI_EMB_DEPLOYMENT": "emb"}
    env.update(extra)
    return env


CONF = ("search_semantic_config = default\nsearch_captions = false\n"
        "embedding_dimensions = 16\nmax_retries = 0\n")


@pytest.fixture
def srv(spawn, smock):
    return serve(spawn, smock, "azure", conf=CONF, env=rag_env(smock))


def calls(mock):
    """The API requests the mock saw, oldest first, with parsed bodies."""
    return [(r["path"], json.loads(r["body"]) if r["body"] else None, r)
            for r in mock.requests()]


def last_user(body):
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def test_stream_flow_and_context(srv, smock):
    r = post(srv.port, "/chat/stream",
             chat_body(say(QUESTION, delay_ms=1), session_state="s1"))
    assert r.status == 200, r.body
    lines = r.ndjson()
    first = lines[0]
    assert first["delta"] == {"role": "assistant"}
    assert first["session_state"] == "s1"
    dp = first["context"]["data_points"]
    assert dp["text"][0].startswith(TOP_SOURCE + ": Northwind Health Plus covers")
    assert dp["citations"][0] == TOP_SOURCE and len(dp["text"]) <= 3
    titles = [t["title"] for t in first["context"]["thoughts"]]
    assert set(titles) == {"Prompt to generate search query",
                           "Compute the question's embedding",
                           "Search using generated search query",
                           "Search results", "Prompt to generate answer"}
    for t in first["context"]["thoughts"]:
        assert t["props"]["duration_ms"] >= 0 and t["props"]["start_ms"] >= 0
    answer = "".join(l["delta"]["content"] for l in lines[1:])
    assert "[%s]" % TOP_SOURCE in answer, answer

    seen = calls(smock)
    paths = [p for p, _, _ in seen]
    chat = "/openai/deployments/%s/chat/completions" % DEPLOYMENT
    assert sorted(paths[:2]) == sorted([chat, "/openai/deployments/emb/embeddings"])
    assert paths[2:] == ["/indexes/gptkbindex/docs/search", chat]
    rewrite = next(b for p, b, _ in seen[:2] if p == chat)
    emb = next(b for p, b, _ in seen[:2] if p != chat)
    _, search, sreq = seen[2]
    _, final, _ = seen[3]
    assert last_user(rewrite).startswith("Generate search query for: " + QUESTION)
    assert rewrite["stream"] is False and rewrite["temperature"] == 0
    assert emb == {"input": say(QUESTION, delay_ms=1), "dimensions": 16}
    assert sreq["headers"]["api-key"] == KEY
    assert "api-version=2025-09-01" in sreq["query"]
    assert search["search"] == QUERY and search["top"] == 3
    assert search["queryType"] == "semantic"
    assert search["semanticConfiguration"] == "default"
    vq = search["vectorQueries"][0]
    assert vq["kind"] == "vector" and vq["fields"] == "embedding"
    assert len(vq["vector"]) == 16 and vq["k"] > 0
    assert final["stream"] is True
    assert "Answer ONLY with the facts listed" in final["messages"][0]["content"]
    assert "\nSources:\n%s: Northwind" % TOP_SOURCE in last_user(final)


def test_embedding_runs_while_the_rewrite_waits(srv, smock):
    r = post(srv.port, "/chat/stream",
             chat_body(say(QUESTION, ttft_ms=400, delay_ms=1)))
    assert r.status == 200, r.body
    steps = {t["title"]: t["props"] for t in r.ndjson()[0]["context"]["thoughts"]}
    rw = steps["Prompt to generate search query"]
    em = steps["Compute the question's embedding"]
    assert rw["duration_ms"] >= 400
    assert em["start_ms"] < rw["start_ms"] + 100       # started together
    assert em["start_ms"] + em["duration_ms"] < rw["start_ms"] + rw["duration_ms"]
    assert steps["Search using generated search query"]["start_ms"] >= 400


def test_whole_answer_with_captions_text_only(spawn, smock):
    conf = "search_semantic_config = sem\nsearch_captions = true\nsearch_top = 2\n"
    env = rag_env(smock, AZURE_OPENAI_EMB_DEPLOYMENT=None,
                  AZURE_SEARCH_ENDPOINT=None,
                  LLMFORK_SEARCH_ENDPOINT=smock.url + "/")
    srv = serve(spawn, smock, "openai", conf=conf, env=env)
    r = post(srv.port, "/chat", chat_body("Which plan covers eye exams and glasses?"))
    assert r.status == 200, r.body
    out = r.json()
    assert "[Benefit_Options-3.pdf]" in out["message"]["content"]
    text = out["context"]["data_points"]["text"]
    assert text[0] == ("Benefit_Options-3.pdf: Eye exams and glasses are "
                       "covered by Northwind Health Plus.")    # the caption
    paths = [p for p, _, _ in calls(smock)]
    assert paths == ["/v1/chat/completions", "/indexes/gptkbindex/docs/search",
                     "/v1/chat/completions"]
    search = calls(smock)[1][1]
    assert "vectorQueries" not in search and search["top"] == 2
    assert search["captions"].startswith("extractive")


def test_search_failures_are_clear_errors(spawn, smock):
    srv = serve(spawn, smock, "azure", conf=CONF,
                env=rag_env(smock, AZURE_SEARCH_INDEX="nope"))
    r = post(srv.port, "/chat/stream", chat_body(QUESTION))
    assert r.status == 502, r.body
    err = r.json()["error"]
    assert "search service failed (HTTP 404)" in err and "'nope'" in err
    srv.stop()
    dead = "http://127.0.0.1:%d" % util.free_port()
    srv = serve(spawn, smock, "azure", conf=CONF,
                env=rag_env(smock, AZURE_SEARCH_ENDPOINT=dead))
    r = post(srv.port, "/chat", chat_body(QUESTION))
    assert r.status == 502 and "search service could not be reached" in r.json()["error"]


@pytest.mark.parametrize("fault,who", [("--search-fault", "the search service"),
                                       ("--embed-fault", "the embedding model"),
                                       (None, "the model")])
def test_a_busy_step_is_a_429_with_its_retry_after(spawn, tmp_path, fault, who):
    """A throttled search service, embeddings deployment or rewrite call
    (429 with Retry-After, after fetch's retries) reaches the client as
    the chat app's 429 with that Retry-After, as a busy answer call does,
    not as a 502 (or a 429 without the header)."""
    args = ("--index", INDEX) + ((fault, "429:ms=3000") if fault else ())
    m = Mock(tmp_path, *args, name="busy")
    try:
        srv = serve(spawn, m, "azure", conf=CONF, env=rag_env(m))
        q = QUESTION if fault else say(QUESTION, fault="429:ms=3000")
        for path in ("/chat", "/chat/stream"):
            r = post(srv.port, path, chat_body(q))
            assert r.status == 429, r.body
            assert r.headers.get("retry-after") == "3", r.headers
            err = r.json()["error"]
            assert err.startswith(who + " is busy; retry later"), err
    finally:
        stop_clean(m)


def test_an_index_with_other_field_names(spawn, tmp_path):
    """An index whose fields are not the sample's (the portal's "Import and
    vectorize data" makes chunk and title): the search's select names them
    once KB_FIELDS_CONTENT / KB_FIELDS_SOURCEPAGE say so; before, the
    service's 400 for the unknown field is a clear 502."""
    index = tmp_path / "wizard.json"
    index.write_text(json.dumps({"name": "wizard", "text_field": "chunk", "value": [
        {"chunk_id": "c1", "title": "plans.pdf",
         "chunk": "Northwind Health Plus covers emergency services."},
        {"chunk_id": "c2", "title": "handbook.pdf",
         "chunk": "Vacation accrues at 1.5 days per month."}]}))
    m = Mock(tmp_path, "--index", str(index), name="wizard")
    try:
        check_field_settings(spawn, m)
    finally:
        stop_clean(m)


def check_field_settings(spawn, m):
    env = rag_env(m, AZURE_SEARCH_INDEX="wizard", AZURE_OPENAI_EMB_DEPLOYMENT=None)
    srv = serve(spawn, m, "azure", conf=CONF, env=env)
    r = post(srv.port, "/chat", chat_body(QUESTION))
    assert r.status == 502, r.body
    err = r.json()["error"]
    assert "search service failed (HTTP 400)" in err, err
    assert "property named 'sourcepage'" in err, err
    srv.stop()
    env.update(KB_FIELDS_CONTENT="chunk", KB_FIELDS_SOURCEPAGE="title")
    srv = serve(spawn, m, "azure", conf=CONF, env=env)
    r = post(srv.port, "/chat", chat_body(QUESTION))
    assert r.status == 200, r.body
    out = r.json()
    assert out["context"]["data_points"]["citations"] == ["plans.pdf"]
    assert out["context"]["data_points"]["text"] == [
        "plans.pdf: Northwind Health Plus covers emergency services."]
    assert "[plans.pdf]" in out["message"]["content"]
    search = [b for p, b, _ in calls(m) if p.startswith("/indexes/")][-1]
    assert search["select"] == "title,chunk"


def test_a_reasoning_model_answers(spawn, smock):
    """A reasoning model (o1, o3, o4-mini, gpt-5) refuses the rewrite's
    max_tokens and temperature 0 with a 400 naming the param: the rewrite
    is asked again without them, and from then on this worker asks
    without them at once. Before, every question was that 400."""
    srv = serve(spawn, smock, "azure", conf=CONF,
                env=rag_env(smock, AZURE_OPENAI_CHAT_DEPLOYMENT="o4-mini"))
    chat = "/openai/deployments/o4-mini/chat/completions"
    for n, path in enumerate(("/chat", "/chat/stream", "/chat")):
        smock.reset()
        r = post(srv.port, path, chat_body(QUESTION))
        assert r.status == 200, r.body
        text = (r.json()["message"]["content"] if path == "/chat" else
                "".join(l["delta"].get("content") or "" for l in r.ndjson()[1:]))
        assert "[%s]" % TOP_SOURCE in text, text
        sent = [(b, q) for p, b, q in calls(smock) if p == chat]
        rewrites = [b for b, _ in sent if not b["stream"] and
                    last_user(b).startswith("Generate search query for:")]
        assert len(rewrites) == (2 if n == 0 else 1), sent
        plain = rewrites[-1]
        assert "max_tokens" not in plain and "temperature" not in plain, plain
        assert len(sent) == len(rewrites) + 1       # then the answer
    assert "asking without them" in srv.log


@pytest.mark.parametrize("mode", ["think", "field"])
def test_a_thinking_model_s_query_is_its_answer(srv, smock, mode):
    """DeepSeek-R1 thinks inside the content ("<think>...</think>" first):
    the search gets the query after the thinking, not the thinking."""
    r = post(srv.port, "/chat", chat_body(say(QUESTION, reasoning=mode)))
    assert r.status == 200, r.body
    search = [b for p, b, _ in calls(smock) if p.startswith("/indexes/")][-1]
    assert search["search"] == QUESTION, search["search"]
    assert "[%s]" % TOP_SOURCE in r.json()["message"]["content"]


def test_rewrite_failure_and_bad_question(srv, smock):
    r = post(srv.port, "/chat/stream", chat_body(say(QUESTION, fault=500)))
    assert r.status == 502, r.body
    assert "model provider failed (HTTP 500)" in r.json()["error"]
    r = post(srv.port, "/chat", {"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    assert r.status == 400 and "last message" in r.json()["error"]


def test_disconnect_cancels_the_steps(srv, smock):
    s = open_request(srv.port, "POST", "/chat/stream",
                     chat_body(say(QUESTION, ttft_ms=20000)))
    smock.wait_stat("active", 1)             # the rewrite call is waiting
    before = smock.stats()["cancelled"]
    s.close()
    t = smock.wait_stat("cancelled", before + 1)
    assert t < 1 * SLOW
    time.sleep(0.2)
    assert smock.stats()["active"] == 0
    # the rewrite was cancelled; the search never started
    assert sorted(p for p, _, _ in calls(smock)) == [
        "/openai/deployments/%s/chat/completions" % DEPLOYMENT,
        "/openai/deployments/emb/embeddings"]


def test_follow_up_question_keeps_the_conversation(srv, smock):
    msgs = [{"role": "user", "content": "What is covered?"},
            {"role": "assistant", "content": "Eye exams [Benefit_Options-3.pdf]."},
            {"role": "user", "content": "How much vacation do employees accrue?"}]
    r = post(srv.port, "/chat", {"messages": msgs})
    assert r.status == 200, r.body
    assert "[employee_handbook-1.pdf]" in r.json()["message"]["content"]
    seen = calls(smock)
    final = seen[-1][1]
    assert [m["role"] for m in final["messages"]] == ["system", "user", "assistant", "user"]
    rewrite = next(b for p, b, _ in seen if p.endswith("/chat/completions")
                   and b["stream"] is False and "Generate search" in last_user(b))
    assert rewrite["messages"][1]["content"] == "What is covered?"


# ---- Entra ID instead of keys ------------------------------------------------
# The mock runs with --token require: its chat and embeddings endpoints take
# only tokens it issued for https://cognitiveservices.azure.com, its search
# endpoint only tokens for https://search.azure.com.

SECRET = "rag-s3cret"
COGNITIVE = "https://cognitiveservices.azure.com"
SEARCH = "https://search.azure.com"
NO_KEYS = {k: None for k in (
    "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "AZURE_SEARCH_KEY",
    "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST")}


def entra_mock(tmp_path, spec=""):
    return Mock(tmp_path, "--index", INDEX, "--token",
                "require,secret=%s%s" % (SECRET, spec), name="emock")


def entra_rag(spawn, mock, provider="azure"):
    env = rag_env(mock, **NO_KEYS)
    env.update({"AZURE_TENANT_ID": "tenant-9", "AZURE_CLIENT_ID": "client-9",
                "AZURE_CLIENT_SECRET": SECRET, "AZURE_AUTHORITY_HOST": mock.url})
    return serve(spawn, mock, provider, conf=CONF, env=env)


def bearer(req):
    assert "api-key" not in req["headers"], req["headers"]
    auth = req["headers"]["authorization"]
    assert auth.startswith("Bearer mock-entra-"), auth
    return auth


def test_entra_only_flow_one_token_request_per_scope(spawn, tmp_path):
    m = entra_mock(tmp_path, ",delay_ms=150")
    try:
        srv = entra_rag(spawn, m)
        r = post(srv.port, "/chat/stream", chat_body(say(QUESTION, delay_ms=1)))
        assert r.status == 200, (r.body, srv.log)
        answer = "".join(l["delta"]["content"] for l in r.ndjson()[1:])
        assert "[%s]" % TOP_SOURCE in answer, answer
        r = post(srv.port, "/chat", chat_body("Which plan covers eye exams and glasses?"))
        assert r.status == 200, (r.body, srv.log)
        assert "[Benefit_Options-3.pdf]" in r.json()["message"]["content"]

        t = m.get("/_mock/tokens")
        assert t["requests"] == 2 and t["refused"] == 0, t
        assert t["issued_for"] == {COGNITIVE: 1, SEARCH: 1}
        seen = calls(m)
        kinds = {"chat": set(), "emb": set(), "search": set()}
        for path, _, req in seen:
            kind = ("search" if path.startswith("/indexes/") else
                    "emb" if path.endswith("/embeddings") else "chat")
            kinds[kind].add(bearer(req))
        assert [p for p, _, _ in seen].count("/indexes/gptkbindex/docs/search") == 2
        assert len(seen) == 8                   # 2 x (rewrite, embed, search, answer)
        # one token per scope, reused: the embeddings share the model's
        assert len(kinds["search"]) == 1 and kinds["emb"] == kinds["chat"]
        assert len(kinds["chat"]) == 1 and kinds["search"] != kinds["chat"]
        assert "search: no AZURE_SEARCH_KEY; Entra ID tokens from client secret" in srv.log
    finally:
        stop_clean(m)


def test_search_token_failure_is_a_502_before_the_stream(spawn, tmp_path):
    m = entra_mock(tmp_path, ",only=search,fail=400")
    try:
        srv = entra_rag(spawn, m)
        t0 = time.monotonic()
        r = post(srv.port, "/chat/stream", chat_body(QUESTION))
        assert r.status == 502, r.body
        assert r.headers.get("content-type", "").startswith("application/json")
        err = r.json()["error"]
        assert err.startswith("the search service: could not get an Entra ID "
                              "token: client secret:"), err
        assert "AADSTS50000" in err and SECRET not in err
        assert time.monotonic() - t0 < 5 * SLOW
        assert not [p for p, _, _ in calls(m) if p.startswith("/indexes/")]
        assert m.get("/_mock/tokens")["issued_for"] == {COGNITIVE: 1}
        assert "could not get an Entra ID token" in srv.log
    finally:
        stop_clean(m)


def test_disconnect_while_waiting_for_the_search_token(spawn, tmp_path):
    m = entra_mock(tmp_path, ",only=search,delay_ms=1500")
    try:
        srv = entra_rag(spawn, m)
        s = open_request(srv.port, "POST", "/chat/stream", chat_body(QUESTION))
        util.wait_for(lambda: m.get("/_mock/tokens")["requests"] == 2, 5 * SLOW,
                      what="the search token request")
        s.close()                               # the run waits for that token
        util.wait_for(lambda: m.get("/_mock/tokens")["issued_for"].get(SEARCH) == 1,
                      5 * SLOW, what="the search token")
        time.sleep(0.3)
        paths = [p for p, _, _ in calls(m)]
        assert "/indexes/gptkbindex/docs/search" not in paths, paths
        assert len(paths) == 2                  # the rewrite and the embedding
        # the token the cancelled wait asked for serves the next question
        r = post(srv.port, "/chat", chat_body(QUESTION))
        assert r.status == 200, (r.body, srv.log)
        assert m.get("/_mock/tokens")["requests"] == 2
    finally:
        stop_clean(m)


def test_search_on_entra_while_the_model_uses_a_key(spawn, tmp_path):
    # No --token require: the chat endpoints take the model's key; the
    # search call must still come with a search.azure.com token.
    m = Mock(tmp_path, "--index", INDEX, "--token", "secret=" + SECRET, name="kmock")
    try:
        env = rag_env(m, **NO_KEYS)
        env.update({"AZURE_TENANT_ID": "tenant-9", "AZURE_CLIENT_ID": "client-9",
                    "AZURE_CLIENT_SECRET": SECRET, "AZURE_AUTHORITY_HOST": m.url,
                    "LLMFORK_PROVIDER": "openai", "OPENAI_BASE_URL": m.url + "/v1",
                    "OPENAI_API_KEY": KEY, "OPENAI_MODEL": "gpt-test",
                    "AZURE_OPENAI_EMB_DEPLOYMENT": None})
        srv = serve(spawn, m, "openai", conf=CONF,
                    env={k: v for k, v in env.items() if v is not None})
        r = post(srv.port, "/chat", chat_body(QUESTION))
        assert r.status == 200, (r.body, srv.log)
        t = m.get("/_mock/tokens")
        assert t["issued_for"] == {SEARCH: 1}, t
        for path, _, req in calls(m):
            if path.startswith("/indexes/"):
                bearer(req)
            else:
                assert req["headers"]["authorization"] == "Bearer " + KEY
    finally:
        stop_clean(m)


def test_a_refused_token_says_what_the_search_service_needs(spawn, tmp_path):
    """A new search service takes API keys only: llmfork's token is refused
    with a bare 401/403. The client's error says what to enable."""
    m = Mock(tmp_path, "--index", INDEX, "--token", "secret=" + SECRET,
             "--search-fault", "403", name="kmock")
    try:
        env = rag_env(m, **NO_KEYS)
        env.update({"AZURE_TENANT_ID": "tenant-9", "AZURE_CLIENT_ID": "client-9",
                    "AZURE_CLIENT_SECRET": SECRET, "AZURE_AUTHORITY_HOST": m.url,
                    "AZURE_OPENAI_API_KEY": KEY})
        srv = serve(spawn, m, "azure", conf=CONF, env=env)
        r = post(srv.port, "/chat/stream", chat_body(QUESTION))
        assert r.status == 502, r.body
        err = r.json()["error"]
        assert err.startswith("the search service refused this server's "
                              "credentials (HTTP 403): with an Entra ID token"), err
        assert "role-based access" in err and "Search Index Data Reader" in err
        srv.stop()
        # with a key, the hint about tokens would mislead
        srv = serve(spawn, m, "azure", conf=CONF,
                    env=rag_env(m, AZURE_OPENAI_EMB_DEPLOYMENT=None))
        r = post(srv.port, "/chat", chat_body(QUESTION))
        assert r.status == 502, r.body
        assert r.json()["error"] == ("the search service refused this server's "
                                     "credentials (HTTP 403)")
    finally:
        stop_clean(m)
