"""azure-search-openai-demo's frontend on llmfork (rag = search): the
requests its api.ts sends as Chat.tsx builds them (the settings panel's
defaults, then each setting changed), and what Chat.tsx and
AnswerParser.tsx read from the replies. The mock is the model, the
embeddings deployment and Azure AI Search; its request log shows what
each override changed in the search call or in the answer's prompt.
"""
import json
import re

import pytest

import entra_user as eu
import util
from upstream import KEY, Mock, get, post, say, serve

INDEX = util.ROOT + "/tests/mock/index.json"
QUESTION = "What does the Health Plus plan cover for emergency services?"
SEARCH = "/indexes/gptkbindex/docs/search"
CHAT = "/openai/deployments/%s/chat/completions"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}$")
# Every key models.ts's Config has.
CONFIG_KEYS = {
    "defaultReasoningEffort", "defaultRetrievalReasoningEffort",
    "showMultimodalOptions", "showSemanticRankerOption",
    "showQueryRewritingOption", "showReasoningEffortOption",
    "streamingEnabled", "showVectorOption", "showUserUpload",
    "showLanguagePicker", "showSpeechInput", "showSpeechOutputBrowser",
    "showSpeechOutputAzure", "showChatHistoryBrowser", "showChatHistoryCosmos",
    "showAgenticRetrievalOption", "ragSearchTextEmbeddings",
    "ragSearchImageEmbeddings", "ragSendTextSources", "ragSendImageSources",
    "webSourceEnabled", "sharepointSourceEnabled",
}


def frontend_overrides(**changed):
    """Chat.tsx's overrides with the settings panel's defaults (undefined
    ones left out, as JSON.stringify leaves them)."""
    o = {"top": 3, "max_subqueries": 10, "results_merge_strategy": "interleaved",
         "temperature": 0.3, "minimum_reranker_score": 0,
         "minimum_search_score": 0, "retrieval_mode": "hybrid",
         "semantic_ranker": True, "semantic_captions": False,
         "query_rewriting": False, "reasoning_effort": "",
         "suggest_followup_questions": False, "search_text_embeddings": True,
         "search_image_embeddings": False, "send_text_sources": True,
         "send_image_sources": False, "language": "en",
         "use_agentic_retrieval": False, "use_web_source": False,
         "use_sharepoint_source": False}
    o.update(changed)
    return o


def frontend_request(question=QUESTION, history=(), session_state=None,
                     **changed):
    msgs = list(history) + [{"content": say(question, delay_ms=1),
                             "role": "user"}]
    return {"messages": msgs,
            "context": {"overrides": frontend_overrides(**changed)},
            "session_state": session_state}


@pytest.fixture
def smock(tmp_path):
    m = Mock(tmp_path, "--index", INDEX, name="smock")
    yield m
    rc = m.stop()
    assert "Sanitizer" not in m.log and "runtime error" not in m.log, m.log
    assert rc == 0, m.log


@pytest.fixture
def content(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    for doc in json.load(open(INDEX))["value"]:
        name = doc["sourcepage"]
        (d / name).write_bytes(b"%PDF-1.4\n" + name.encode() + b"\n%%EOF\n")
    return d


def demo_env(mock, **extra):
    env = {"LLMFORK_RAG": "search", "AZURE_SEARCH_ENDPOINT": mock.url,
           "AZURE_SEARCH_INDEX": "gptkbindex", "AZURE_SEARCH_KEY": KEY,
           "AZURE_OPENAI_EMB_DEPLOYMENT": "emb"}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


CONF = ("search_semantic_config = default\nembedding_dimensions = 16\n"
        "max_retries = 0\n")


@pytest.fixture
def srv(spawn, smock, content):
    return serve(spawn, smock, "azure", conf=CONF,
                 env=demo_env(smock, LLMFORK_CONTENT_DIR=str(content)))


def calls(mock, path):
    return [json.loads(r["body"]) for r in mock.requests() if r["path"] == path]


def answer_call(mock, deployment="chat-dep"):
    return [b for b in calls(mock, CHAT % deployment)
            if "tools" not in b][-1]


def read_stream(r):
    """As Chat.tsx's handleAsyncRequest folds the NDJSON lines."""
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/x-ndjson")
    response, text = None, ""
    for event in r.ndjson():
        assert "error" not in event, event
        if event.get("context") and "data_points" in event["context"]:
            response = dict(event, message=event["delta"])
        elif event.get("delta", {}).get("content"):
            text += event["delta"]["content"]
        elif event.get("context"):
            response["context"] = dict(response["context"], **event["context"])
    response["message"]["content"] = text
    return response


def citations(text, possible):
    """AnswerParser.tsx: the [part]s that start a known citation."""
    parts = re.split(r"\[([^\]]+)\]", text)
    return [p for p in parts[1::2] if any(c.startswith(p) for c in possible)]


def test_the_app_boots(srv, spawn, smock):
    setup = get(srv.port, "/auth_setup").json()
    assert setup["useLogin"] is False and setup["requireAccessControl"] is False
    r = get(srv.port, "/config")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    config = r.json()
    assert set(config) == CONFIG_KEYS
    on = {k for k, v in config.items() if v is True}
    assert on == {"streamingEnabled", "showSemanticRankerOption",
                  "showQueryRewritingOption", "showVectorOption",
                  "ragSearchTextEmbeddings", "ragSendTextSources"}
    assert config["defaultReasoningEffort"] == ""
    # No semantic configuration, no embeddings, a reasoning deployment.
    s = serve(spawn, smock, "azure", conf="max_retries = 0\n",
              env=demo_env(smock, AZURE_OPENAI_EMB_DEPLOYMENT=None,
                           AZURE_OPENAI_CHAT_DEPLOYMENT="gpt-5-mini"))
    config = get(s.port, "/config").json()
    assert set(config) == CONFIG_KEYS
    assert {k for k, v in config.items() if v is True} == {
        "streamingEnabled", "ragSendTextSources", "showReasoningEffortOption"}
    assert config["defaultReasoningEffort"] == "medium"


def test_an_answer_streams_with_citations_that_open(srv, smock, content):
    resp = read_stream(post(srv.port, "/chat/stream", frontend_request()))
    ctx = resp["context"]
    assert UUID4.match(resp["session_state"]), resp["session_state"]
    assert ctx["followup_questions"] is None
    dp = ctx["data_points"]
    assert dp["citations"][0] == "Benefit_Options-2.pdf"
    assert dp["text"][0].startswith("Benefit_Options-2.pdf: Northwind Health")
    assert [t["title"] for t in ctx["thoughts"]][-1] == "Prompt to generate answer"
    cited = citations(resp["message"]["content"], dp["citations"])
    assert "Benefit_Options-2.pdf" in cited
    for c in cited:
        r = get(srv.port, "/content/" + c)
        assert r.status == 200 and r.headers["content-type"] == "application/pdf"
        assert r.body == (content / c).read_bytes()
    # The next question carries the history and the session it was given.
    history = [{"content": QUESTION, "role": "user"},
               {"content": resp["message"]["content"], "role": "assistant"}]
    again = read_stream(post(srv.port, "/chat/stream", frontend_request(
        "And eye exams?", history, session_state=resp["session_state"])))
    assert again["session_state"] == resp["session_state"]
    # /chat (streaming off in the panel) mints one too.
    r = post(srv.port, "/chat", frontend_request())
    assert r.status == 200, r.body
    assert UUID4.match(r.json()["session_state"])
    assert r.json()["session_state"] != resp["session_state"]


def test_the_rewrite_is_a_tool_call_as_the_sample_asks(srv, smock):
    read_stream(post(srv.port, "/chat/stream", frontend_request()))
    rewrite = [b for b in calls(smock, CHAT % "chat-dep") if "tools" in b][-1]
    assert rewrite["tools"][0]["function"]["name"] == "search_sources"
    assert rewrite["temperature"] == 0 and rewrite["stream"] is False
    assert calls(smock, SEARCH)[-1]["search"] == QUESTION
    # A model that answers in words: its words are the query.
    read_stream(post(srv.port, "/chat/stream", frontend_request(
        say("Eye exams", tool="none"))))
    assert calls(smock, SEARCH)[-1]["search"] == "Eye exams"


def search_for(srv, smock, **changed):
    resp = read_stream(post(srv.port, "/chat/stream",
                            frontend_request(**changed)))
    return calls(smock, SEARCH)[-1], resp["context"]


def test_the_defaults_search(srv, smock):
    body, ctx = search_for(srv, smock)
    assert body["search"] == QUESTION and body["top"] == 3
    assert body["queryType"] == "semantic"
    assert body["semanticConfiguration"] == "default"
    assert body["semanticQuery"] == QUESTION
    assert "captions" not in body and "queryRewrites" not in body
    assert "filter" not in body
    assert body["vectorQueries"][0]["k"] == 50
    props = [t for t in ctx["thoughts"]
             if t["title"] == "Search using generated search query"][0]["props"]
    assert props["use_vector_search"] and props["use_text_search"]
    assert props["use_semantic_ranker"] and not props["use_semantic_captions"]


def test_top_and_retrieval_modes(srv, smock):
    assert search_for(srv, smock, top=5)[0]["top"] == 5
    n = len(calls(smock, "/openai/deployments/emb/embeddings"))
    body, ctx = search_for(srv, smock, retrieval_mode="text")
    assert "vectorQueries" not in body and body["search"] == QUESTION
    # text: no embedding call at all
    assert len(calls(smock, "/openai/deployments/emb/embeddings")) == n
    body, _ = search_for(srv, smock, retrieval_mode="vectors")
    assert body["search"] == "" and body["vectorQueries"]
    assert body["semanticQuery"] == QUESTION


def test_semantic_ranker_captions_and_rewrites(srv, smock):
    body, _ = search_for(srv, smock, semantic_ranker=False)
    assert "queryType" not in body and "semanticConfiguration" not in body
    body, ctx = search_for(srv, smock, semantic_captions=True)
    assert body["captions"] == "extractive|highlight-false"
    # the captions are the sources' text: the mock's is the sentence
    # with a query word, not the whole content
    assert ctx["data_points"]["text"][0] == ("Benefit_Options-2.pdf: Northwind"
        " Health Plus covers emergency services, mental health and substance"
        " abuse coverage, and prescription drugs.")
    body, _ = search_for(srv, smock, query_rewriting=True)
    assert body["queryRewrites"] == "generative"
    assert body["queryLanguage"] == "en-us"


def test_minimum_scores_drop_results(srv, smock):
    _, ctx = search_for(srv, smock)
    everything = ctx["data_points"]["citations"]
    assert len(everything) == 3
    _, ctx = search_for(srv, smock, minimum_reranker_score=3.9)
    assert ctx["data_points"]["citations"] == everything[:1]
    search = [t for t in ctx["thoughts"] if t["title"] == "Search results"][0]
    assert len(search["description"]) == 1
    _, ctx = search_for(srv, smock, minimum_search_score=1000)
    assert ctx["data_points"]["citations"] == []


def test_categories_filter_the_search(srv, smock):
    body, ctx = search_for(srv, smock, include_category="benefits")
    assert body["filter"] == "category eq 'benefits'"
    assert sorted(ctx["data_points"]["citations"]) == [
        "Benefit_Options-2.pdf", "Benefit_Options-3.pdf"]
    body, ctx = search_for(srv, smock, exclude_category="benefits")
    assert body["filter"] == "category ne 'benefits'"
    assert not any(c.startswith("Benefit") for c in ctx["data_points"]["citations"])
    body, ctx = search_for(srv, smock, include_category="handbook",
                           exclude_category="Dad's")
    assert body["filter"] == "category eq 'handbook' and category ne 'Dad''s'"
    assert ctx["data_points"]["citations"]
    # "All" in the panel sends an empty string: no filter.
    assert "filter" not in search_for(srv, smock, include_category="")[0]


SAMPLE_PROMPT_START = "Assistant helps the company employees"


def test_prompt_template_replaces_or_appends(srv, smock):
    read_stream(post(srv.port, "/chat/stream",
                     frontend_request(prompt_template="You are a pirate.")))
    system = answer_call(smock)["messages"][0]
    assert system == {"role": "system", "content": "You are a pirate."}
    read_stream(post(srv.port, "/chat/stream",
                     frontend_request(prompt_template=">>>Answer in French.")))
    content = answer_call(smock)["messages"][0]["content"]
    assert content.startswith(SAMPLE_PROMPT_START)
    assert content.endswith("\n\nAnswer in French.")


def test_sampling_overrides_reach_the_answer(srv, smock):
    read_stream(post(srv.port, "/chat/stream",
                     frontend_request(temperature=0.7, seed=42, language="fr")))
    body = answer_call(smock)
    assert body["temperature"] == 0.7 and body["seed"] == 42
    # not a reasoning deployment: no reasoning_effort
    assert "reasoning_effort" not in body


def test_reasoning_effort_for_a_reasoning_deployment(spawn, smock):
    s = serve(spawn, smock, "azure", conf=CONF,
              env=demo_env(smock, AZURE_OPENAI_CHAT_DEPLOYMENT="o4-mini"))
    req = frontend_request(reasoning_effort="low")
    del req["context"]["overrides"]["temperature"]
    r = post(s.port, "/chat", req)
    assert r.status == 200, r.body
    body = answer_call(smock, "o4-mini")
    assert body["reasoning_effort"] == "low"
    step = r.json()["context"]["thoughts"][-1]
    assert step["props"]["reasoning_effort"] == "low"


def test_followups_in_context_never_in_the_text(srv, smock):
    r = post(srv.port, "/chat/stream",
             frontend_request(suggest_followup_questions=True))
    system = answer_call(smock)["messages"][0]["content"]
    assert "Enclose the follow-up questions in double angle brackets" in system
    lines = r.ndjson()
    for l in lines:
        assert "<<" not in (l.get("delta", {}).get("content") or ""), l
        assert ">>" not in (l.get("delta", {}).get("content") or ""), l
    last = lines[-1]
    assert last["delta"] == {"role": "assistant"}
    # the sample's line: the first line's context nested, then the items
    assert last["context"]["followup_questions"] == [
        "What else does the plan cover?", "Who is eligible?", "How do I enroll?"]
    assert last["context"]["context"]["data_points"] == \
        lines[0]["context"]["data_points"]
    resp = read_stream(r)
    assert resp["context"]["followup_questions"] == \
        last["context"]["followup_questions"]
    assert "[Benefit_Options-2.pdf]" in resp["message"]["content"]
    # /chat: the same, in its context
    r = post(srv.port, "/chat", frontend_request(suggest_followup_questions=True))
    out = r.json()
    assert "<<" not in out["message"]["content"]
    assert "[Benefit_Options-2.pdf]" in out["message"]["content"]
    assert out["context"]["followup_questions"] == \
        last["context"]["followup_questions"]
    # off: no instruction, no line
    r = post(srv.port, "/chat/stream", frontend_request())
    assert "double angle" not in answer_call(smock)["messages"][0]["content"]
    assert "followup_questions" not in r.ndjson()[-1].get("context", {})


@pytest.mark.parametrize("key,value", [
    ("top", "3"), ("retrieval_mode", "semantic"), ("semantic_ranker", "true"),
    ("semantic_captions", 1), ("query_rewriting", "no"),
    ("minimum_search_score", "0"), ("minimum_reranker_score", -1),
    ("include_category", ["a"]), ("exclude_category", 5),
    ("prompt_template", {}), ("suggest_followup_questions", "yes"),
    ("reasoning_effort", 1), ("language", False), ("temperature", "hot"),
    ("seed", 1.5),
])
def test_a_wrong_type_is_a_400_naming_it(srv, smock, key, value):
    n = len(smock.requests())
    r = post(srv.port, "/chat/stream", frontend_request(**{key: value}))
    assert r.status == 400, r.body
    assert r.json()["error"].startswith("context.overrides.%s:" % key)
    assert len(smock.requests()) == n       # nothing was asked upstream


def test_vectors_without_embeddings_is_a_400(spawn, smock):
    s = serve(spawn, smock, "azure", conf=CONF,
              env=demo_env(smock, AZURE_OPENAI_EMB_DEPLOYMENT=None))
    r = post(s.port, "/chat", frontend_request(retrieval_mode="vectors"))
    assert r.status == 400 and "retrieval_mode" in r.json()["error"]
    # hybrid without embeddings: the text query alone
    r = post(s.port, "/chat", frontend_request())
    assert r.status == 200, r.body
    assert "vectorQueries" not in calls(smock, SEARCH)[-1]


def test_login_and_access_control_with_a_category(spawn, tmp_path, smock):
    keys = eu.SigningKey(tmp_path, "kid-1")
    eu.write_jwks(tmp_path / "jwks.json", [keys])
    m = Mock(tmp_path, "--index", INDEX, "--jwks", str(tmp_path / "jwks.json"),
             name="lmock")
    try:
        s = serve(spawn, m, "azure", conf=CONF, env=demo_env(
            m, AZURE_USE_AUTHENTICATION="true",
            AZURE_ENFORCE_ACCESS_CONTROL="true",
            AZURE_SERVER_APP_ID=eu.SERVER_APP, AZURE_CLIENT_APP_ID=eu.CLIENT_APP,
            AZURE_AUTH_TENANT_ID=eu.TENANT, LLMFORK_AUTH_AUTHORITY_HOST=m.url))
        setup = get(s.port, "/auth_setup").json()
        assert setup["useLogin"] is True and setup["requireAccessControl"] is True
        assert set(get(s.port, "/config").json()) == CONFIG_KEYS
        req = frontend_request(include_category="benefits")
        assert post(s.port, "/chat/stream", req).status == 401
        r = post(s.port, "/chat/stream", req, headers={
            "Authorization": "Bearer " + keys.token(eu.claims())})
        read_stream(r)
        f = calls(m, SEARCH)[-1]["filter"]
        assert f.startswith("category eq 'benefits' and (oids/any(g:search.in(g, '%s'))"
                            % eu.OID), f
    finally:
        rc = m.stop()
        assert rc == 0, m.log
