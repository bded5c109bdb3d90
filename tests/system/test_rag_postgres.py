"""RAG over PostgreSQL (rag = postgres): the rag-postgres-openai-python
backend through the real binary, against a real PostgreSQL (pgtest.py)
seeded with tests/data/catalogue.json by scripts/seed-postgres, and the
mock as the model and the embeddings API. The database has no pgvector
(Debian 12 has none): the seed defines a stand-in `vector` type and `<=>`
operator in plain SQL, so the same statements run.
"""
import json
import math
import os
import subprocess
import threading
import time

import pytest
import requests

import util
from pgtest import Postgres, pg_bin
from upstream import (KEY, Mock, get, mock, open_request, post,  # noqa: F401
                      read_reply, say, serve)
from util import SLOW

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="no PostgreSQL")

CATALOGUE = json.load(open(os.path.join(util.ROOT, "tests", "data",
                                        "catalogue.json")))
BY_ID = {i["id"]: i for i in CATALOGUE}
DIMS = 16
EMB = "text-embedding-3-large"


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    db = Postgres()
    m = Mock(tmp_path_factory.mktemp("seedmock"))
    try:
        db.seed("--stand-in-vector", "--dimensions", str(DIMS),
                "--embed-url", m.url + "/v1", "--embed-model", EMB,
                "--embed-key", KEY)
        db.seed("--table", "plain_items")           # no vector columns
        db.psql("CREATE DATABASE novec")
        db.seed(db="novec")                          # no vector type at all
    finally:
        m.stop()
    yield db
    db.stop()


def pg_env(pg, db="postgres", **extra):
    env = dict(pg.env(db), LLMFORK_RAG="postgres",
               AZURE_OPENAI_EMB_DEPLOYMENT=EMB)
    env.update(extra)
    return env


CONF = "embedding_dimensions = %d\nmax_retries = 0\npostgres_pool_size = 2\n" % DIMS


@pytest.fixture
def srv(spawn, mock, pg):
    return serve(spawn, mock, "openai", conf=CONF, env=pg_env(pg))


def chat(question, stream=False, messages=None, **overrides):
    body = {"input": (messages or []) + [{"role": "user", "content": question}],
            "context": {"overrides": overrides}}
    return body


def calls(mock, path_part):
    return [json.loads(r["body"]) for r in mock.requests()
            if path_part in r["path"]]


# ---- the hand check: text ranks, vector ranks, RRF --------------------------

def text_ranks(pg, q):
    rows = pg.psql("SELECT id, ts_rank_cd(to_tsvector('english', description),"
                   " plainto_tsquery('english', '%s')) FROM items WHERE"
                   " to_tsvector('english', description) @@"
                   " plainto_tsquery('english', '%s')" % (q, q))
    return sql_rank({int(i): -float(r) for i, r in rows})


def sql_rank(score):
    """RANK () OVER (ORDER BY score): ties share a rank."""
    ranks = {}
    for i in score:
        ranks[i] = 1 + sum(1 for j in score if score[j] < score[i])
    return ranks


def cosine_distance(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return 1 - dot / (math.sqrt(sum(x * x for x in a)) *
                      math.sqrt(sum(y * y for y in b)))


def stored_vectors(pg):
    return {int(i): [float(x) for x in v.strip("{}").split(",")]
            for i, v in pg.psql("SELECT id, embedding_3l::float8[] FROM items")}


def vector_ranks(pg, mock, q):
    with requests.Session() as s:
        s.trust_env = False
        qv = s.post(mock.url + "/v1/embeddings", timeout=10,
                    json={"model": EMB, "input": q, "dimensions": DIMS},
                    headers={"Authorization": "Bearer " + KEY}).json()
    qv = qv["data"][0]["embedding"]
    dist = {i: cosine_distance(v, qv) for i, v in stored_vectors(pg).items()}
    best = sorted(dist, key=lambda i: dist[i])[:20]
    return sql_rank({i: dist[i] for i in best})


def rrf(*rankings):
    score = {}
    for ranks in rankings:
        for i, r in ranks.items():
            score[i] = score.get(i, 0) + 1.0 / (60 + r)
    return sorted(score, key=lambda i: (-score[i], i))


def search(port, query, **params):
    qs = "&".join("%s=%s" % kv for kv in dict({"query": query}, **params).items())
    return get(port, "/search?" + qs.replace(" ", "+"))


def ids(reply):
    assert reply.status == 200, reply.body
    return [i["id"] for i in reply.json()]


def test_search_modes_and_rrf_order(srv, mock, pg):
    q = "climbing shoes"
    t = text_ranks(pg, q)
    assert t, "the catalogue has text hits for %r" % q
    text = ids(search(srv.port, q, top=20, enable_vector_search="false"))
    assert text == sorted(t, key=lambda i: (t[i], i))
    v = vector_ranks(pg, mock, q)
    vec = ids(search(srv.port, q, top=20, enable_text_search="false"))
    assert vec == sorted(v, key=lambda i: (v[i], i))
    r = search(srv.port, q, top=20)
    assert r.status == 200, srv.log
    hybrid = ids(r)
    assert hybrid == rrf(t, v)[:20]
    assert hybrid != text and hybrid != vec     # the fusion changed the order
    # top
    assert ids(search(srv.port, q, top=2)) == hybrid[:2]
    r = search(srv.port, q, top=1)
    assert r.status == 200, srv.log
    items = r.json()
    assert items == [BY_ID[hybrid[0]]]


def test_items_and_similar(srv, pg):
    r = get(srv.port, "/items/7")
    assert r.status == 200 and r.json() == BY_ID[7]
    r = get(srv.port, "/items/999")
    assert r.status == 404
    assert r.json() == {"error": "Item with ID 999 not found."}
    r = get(srv.port, "/items/seven")
    assert r.status == 400 and r.json()["error"].startswith("id:")
    vecs = stored_vectors(pg)
    dist = {i: cosine_distance(vecs[i], vecs[2]) for i in vecs if i != 2}
    want = sorted(dist, key=lambda i: (dist[i], i))[:3]
    r = get(srv.port, "/similar?id=2&n=3")
    assert r.status == 200, r.body
    got = r.json()
    assert [i["id"] for i in got] == want
    for i in got:
        assert i["distance"] == round(dist[i["id"]], 2)
        assert {k: v for k, v in i.items() if k != "distance"} == BY_ID[i["id"]]
    assert get(srv.port, "/similar?id=999").status == 404


def test_chat_stream_simple_text(srv, mock):
    q = "a dynamic rope for climbing"
    r = post(srv.port, "/chat/stream", chat(q, use_advanced_flow=False,
                                            retrieval_mode="text", top=2,
                                            temperature=0.5))
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = r.ndjson()
    first = lines[0]
    assert first["type"] == "response.context" and first["delta"] is None
    ctx = first["context"]
    assert [t["title"] for t in ctx["thoughts"]] == [
        "Search query for database", "Search results",
        "Prompt to generate answer"]
    assert ctx["thoughts"][0]["description"] == q
    assert ctx["thoughts"][0]["props"] == {"top": 2, "vector_search": False,
                                           "text_search": True}
    items = ctx["thoughts"][1]["description"]
    assert 1 <= len(items) <= 2 and items[0]["id"] == 7
    assert ctx["data_points"] == {str(i["id"]): i for i in items}
    prompt = ctx["thoughts"][2]["description"]
    assert prompt[0]["role"] == "system"
    assert prompt[-1]["content"].startswith(q + "Sources:\n[7]:Name:Crag"
                                            " Dynamic Rope 60m Description:")
    assert "Price:189.0 Brand:Cindervale Type:Climbing" in prompt[-1]["content"]
    rest = lines[1:]
    assert rest and all(l["type"] == "response.output_text.delta" and
                        l["context"] is None for l in rest)
    assert "".join(l["delta"] for l in rest) == mock.answer(20)
    sent = calls(mock, "chat/completions")[-1]
    assert sent["stream"] is True and sent["temperature"] == 0.5
    assert sent["messages"][-1]["content"] == prompt[-1]["content"]
    assert "tools" not in sent
    assert not calls(mock, "embeddings")        # text mode: no embedding


def test_chat_advanced_filters(srv, mock):
    r = post(srv.port, "/chat", chat(say("gear for hiking", price_filter="<100",
                                         brand_filter="!=Ridgeway"),
                                     retrieval_mode="hybrid", top=5))
    assert r.status == 200, r.body
    out = r.json()
    assert out["output_text"] == mock.answer(20)
    ctx = out["context"]
    titles = [t["title"] for t in ctx["thoughts"]]
    assert titles == ["Prompt to generate search arguments",
                      "Search using generated search arguments",
                      "Search results", "Prompt to generate answer"]
    s = ctx["thoughts"][1]
    assert s["description"] == "gear for hiking"
    assert s["props"] == {"top": 5, "vector_search": True, "text_search": True,
                          "filters": [
                              {"column": "price", "comparison_operator": "<",
                               "value": 100},
                              {"column": "brand", "comparison_operator": "!=",
                               "value": "Ridgeway"}]}
    pts = ctx["data_points"].values()
    assert pts and all(p["price"] < 100 and p["brand"] != "Ridgeway" for p in pts)
    first, answer = calls(mock, "chat/completions")[-2:]
    assert first["tools"][0]["function"]["name"] == "search_database"
    assert first["messages"][-1]["content"].startswith(
        "Find search results for user query: gear for hiking")
    assert "stream" in first and first["stream"] is False
    assert answer["messages"][-1]["content"].startswith(
        "gear for hiking [mock")
    assert calls(mock, "embeddings")[-1]["input"] == "gear for hiking"


def test_chat_advanced_without_the_tool(srv, mock):
    """A model that answers in words: its text is the query."""
    r = post(srv.port, "/chat", chat(say("tents", tool="none"),
                                     retrieval_mode="text"))
    assert r.status == 200, r.body
    s = r.json()["context"]["thoughts"][1]
    assert s["description"] == mock.answer(20).strip()
    assert s["props"]["filters"] == []


def test_chat_messages_and_input_parts(srv, mock):
    history = [{"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "hello"}]},
               {"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "hi there"}]}]
    r = post(srv.port, "/chat", chat("sleeping bag", messages=history,
                                     use_advanced_flow=False,
                                     retrieval_mode="text"))
    assert r.status == 200, r.body
    sent = calls(mock, "chat/completions")[-1]["messages"]
    assert sent[1:3] == [{"role": "user", "content": "hello"},
                         {"role": "assistant", "content": "hi there"}]
    r = post(srv.port, "/chat", {"messages": [{"role": "user",
                                               "content": "sleeping bag"}],
                                 "context": {"overrides": {
                                     "use_advanced_flow": False,
                                     "retrieval_mode": "text"}}})
    assert r.status == 200, r.body
    assert "19" in r.json()["context"]["data_points"]


@pytest.mark.parametrize("body,field", [
    (chat("x", top="3"), "context.overrides.top"),
    (chat("x", top=0), "context.overrides.top"),
    (chat("x", temperature=3), "context.overrides.temperature"),
    (chat("x", retrieval_mode="semantic"), "context.overrides.retrieval_mode"),
    (chat("x", use_advanced_flow="yes"), "context.overrides.use_advanced_flow"),
    (chat("x", prompt_template=5), "context.overrides.prompt_template"),
    ({"input": []}, "input"),
    ({"input": [{"role": "assistant", "content": "x"}]}, "input[0].role"),
    ({"input": [{"type": "function_call", "role": "user"}]}, "input[0].type"),
    ({"input": [{"role": "user", "content": 5}]}, "input[0].content"),
])
def test_bad_overrides(srv, mock, body, field):
    for path in ("/chat", "/chat/stream"):
        r = post(srv.port, path, body)
        assert r.status == 400, r.body
        assert r.json()["error"].startswith(field + ":"), r.json()
    assert not calls(mock, "chat/completions")


@pytest.mark.parametrize("qs,field", [
    ("query=x&top=abc", "top"), ("query=x&top=0", "top"),
    ("top=3", "query"), ("query=x&enable_text_search=maybe",
                         "enable_text_search"),
    ("query=x&enable_text_search=false&enable_vector_search=false",
     "enable_vector_search, enable_text_search"),
])
def test_bad_search_params(srv, qs, field):
    r = get(srv.port, "/search?" + qs)
    assert r.status == 400 and r.json()["error"].startswith(field + ":"), r.body


# ---- without vectors -----------------------------------------------------------

@pytest.mark.parametrize("db,table,missing", [
    ("postgres", "plain_items", "the column plain_items.embedding_3l"),
    ("novec", "items", "pgvector"),
])
def test_without_vectors_text_works(spawn, mock, pg, db, table, missing):
    s = serve(spawn, mock, "openai", conf=CONF + "postgres_table = %s\n" % table,
              env=pg_env(pg, db))
    util.wait_for(lambda: missing in s.log, 10 * SLOW, what="the warning")
    assert ids(search(s.port, "tent", enable_vector_search="false"))
    r = search(s.port, "tent")
    assert r.status == 400 and missing in r.json()["error"], r.body
    assert r.json()["error"].startswith("enable_vector_search:")
    r = post(s.port, "/chat/stream", chat("tent"))
    assert r.status == 400 and missing in r.json()["error"], r.body
    assert r.json()["error"].startswith("context.overrides.retrieval_mode:")
    r = post(s.port, "/chat/stream", chat("tent", retrieval_mode="text"))
    assert r.status == 200 and r.ndjson()[0]["context"]["data_points"]


def test_no_embedding_deployment_vectors_400(spawn, mock, pg):
    s = serve(spawn, mock, "openai", conf=CONF,
              env=pg_env(pg, AZURE_OPENAI_EMB_DEPLOYMENT=None))
    r = post(s.port, "/chat", chat("tent", retrieval_mode="vectors"))
    assert r.status == 400 and "embedding deployment" in r.json()["error"]


# ---- the loop never waits on the database ----------------------------------------

def llmfork_backends(pg, where="true"):
    return pg.psql("SELECT pid, state, coalesce(wait_event_type, '') FROM"
                   " pg_stat_activity WHERE application_name = 'llmfork' AND"
                   " query LIKE '%%fulltext_search%%' AND %s" % where)


def lock_items(pg):
    s = pg.session()
    s.stdin.write("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;\n"
                  "SELECT 1;\n")
    s.stdin.flush()
    util.wait_for(lambda: pg.psql("SELECT count(*) FROM pg_locks l JOIN"
                                  " pg_class c ON c.oid = l.relation WHERE"
                                  " c.relname = 'items' AND l.mode ="
                                  " 'AccessExclusiveLock' AND l.granted")
                  == [["1"]], 10 * SLOW, what="the lock")
    return s


def unlock(s):
    s.stdin.write("ROLLBACK;\n\\q\n")
    s.stdin.close()
    s.wait(10)


def waiting_on_lock(pg):
    return llmfork_backends(pg, "state = 'active' AND wait_event_type = 'Lock'")


def held_search(srv, pg):
    """A /search sent, its backend waiting on the lock: (socket, pid)."""
    s = open_request(srv.port, "GET", "/search?query=tent&"
                     "enable_vector_search=false")
    util.wait_for(lambda: waiting_on_lock(pg), 10 * SLOW,
                  what="the query waiting on the lock")
    return s, waiting_on_lock(pg)[0][0]


def test_lock_holds_a_query_while_others_are_served(srv, pg):
    holder = lock_items(pg)
    try:
        got = {}
        t = threading.Thread(target=lambda: got.update(
            r=search(srv.port, "tent", enable_vector_search="false")))
        t.start()
        util.wait_for(lambda: waiting_on_lock(pg), 10 * SLOW,
                      what="the query waiting on the lock")
        for _ in range(5):                      # the worker still serves
            assert util.get(srv.url + "/healthz").status_code == 200
        assert t.is_alive()
    finally:
        unlock(holder)
    t.join(10 * SLOW)
    assert ids(got["r"])


def test_client_leaving_cancels_the_query(srv, pg):
    holder = lock_items(pg)
    try:
        s, pid = held_search(srv, pg)
        s.close()
        # the backend gave the statement up while the lock is still held
        util.wait_for(lambda: pg.psql("SELECT state FROM pg_stat_activity"
                                      " WHERE pid = %s" % pid) == [["idle"]],
                      10 * SLOW, what="the backend to cancel")
        assert not waiting_on_lock(pg)
    finally:
        unlock(holder)
    assert ids(search(srv.port, "tent", enable_vector_search="false"))


def test_lost_connection_mid_query_then_reconnect(srv, pg):
    holder = lock_items(pg)
    try:
        s, pid = held_search(srv, pg)
        pg.psql("SELECT pg_terminate_backend(%s)" % pid)
        r = read_reply(s)
        s.close()
        assert r.status == 503, r.body
        assert "connection" in r.json()["error"]
    finally:
        unlock(holder)
    # the pool opens another connection (after its backoff) and serves again
    util.wait_for(lambda: search(srv.port, "tent", enable_vector_search="false")
                  .status == 200, 10 * SLOW, what="a search after the loss")
    assert util.get(srv.url + "/healthz").status_code == 200


def test_statement_timeout(spawn, mock, pg):
    s = serve(spawn, mock, "openai", conf=CONF + "postgres_statement_timeout = 1\n",
              env=pg_env(pg))
    holder = lock_items(pg)
    try:
        t0 = time.monotonic()
        r = search(s.port, "tent", enable_vector_search="false")
        assert r.status == 504, r.body
        assert "statement timeout" in r.json()["error"]
        assert time.monotonic() - t0 >= 0.9
    finally:
        unlock(holder)


def test_database_down_at_start(spawn, mock, tmp_path):
    """No server there: the worker starts, requests get a clear 503."""
    s = serve(spawn, mock, "openai", conf=CONF,
              env=dict(LLMFORK_RAG="postgres", POSTGRES_HOST=str(tmp_path),
                       POSTGRES_USERNAME="postgres", POSTGRES_DATABASE="x",
                       POSTGRES_SSL="disable"))
    r = get(s.port, "/items/1")
    assert r.status == 503 and "unreachable" in r.json()["error"], r.body
    assert util.get(s.url + "/healthz").status_code == 200


# ---- Azure Database for PostgreSQL: an Entra ID token as the password ------------

PG_AUD = "https://ossrdbms-aad.database.windows.net"


def entra_role(pg, role):
    """A role that logs in with a password over the socket (the others
    stay trusted), allowed to read the catalogue, and no password yet."""
    hba = os.path.join(pg.data, "pg_hba.conf")
    with open(hba) as f:
        rules = f.read()
    with open(hba, "w") as f:
        f.write("local all %s password\n" % role + rules)
    pg.psql("CREATE ROLE %s LOGIN; GRANT SELECT ON items TO %s;"
            " SELECT pg_reload_conf()" % (role, role))


def entra_serve(spawn, pg, m, role):
    """llmfork on the mock's Entra ID (a client secret), no POSTGRES_PASSWORD."""
    return serve(spawn, m, "azure", conf=CONF, env=dict(
        pg_env(pg, POSTGRES_USERNAME=role, AZURE_OPENAI_EMB_DEPLOYMENT=None),
        AZURE_OPENAI_API_KEY=None, AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c",
        AZURE_CLIENT_SECRET="s3cret", AZURE_AUTHORITY_HOST=m.url))


def logs_in(pg, role, password):
    r = subprocess.run(["psql", "-X", "-tA", "-h", pg.dir, "-U", role, "-d",
                        "postgres", "-c", "SELECT 1"], capture_output=True,
                       text=True, timeout=30,
                       env=dict(os.environ, PGPASSWORD=password))
    return r.returncode == 0


def backends(pg, role):
    return {int(r[0]) for r in pg.psql("SELECT pid FROM pg_stat_activity"
                                       " WHERE usename = '%s'" % role)}


class TokenPasswords(threading.Thread):
    """Azure Database for PostgreSQL's side of an Entra ID login, on a
    stock server: it takes an unexpired token the identity platform issued
    for its audience as the password. Here the role's password follows the
    token the mock issued last for PG_AUD (set while the mock holds its
    answer back, delay_ms, so the token works when llmfork gets it), and
    is removed (no login at all) when that token expires."""

    def __init__(self, pg, mock, role, ttl):
        super().__init__(daemon=True)
        self.pg, self.mock, self.role, self.ttl = pg, mock, role, ttl
        self.tokens, self.expired, self.error = [], False, None
        self.done = threading.Event()

    def run(self):
        expires = None
        try:
            while not self.done.wait(0.02):
                tok = self.mock.get("/_mock/tokens")["latest"].get(PG_AUD)
                if tok and tok not in self.tokens:
                    self.pg.psql("ALTER ROLE %s PASSWORD '%s'" % (self.role, tok))
                    self.tokens.append(tok)
                    expires, self.expired = time.monotonic() + self.ttl, False
                elif expires and time.monotonic() >= expires:
                    self.pg.psql("ALTER ROLE %s PASSWORD NULL" % self.role)
                    expires, self.expired = None, True
        except Exception as e:      # reported by stop(), in the test
            self.error = e

    def stop(self):
        self.done.set()
        self.join(10)
        assert self.error is None, self.error


def test_entra_token_is_the_password(spawn, pg, tmp_path):
    """No POSTGRES_PASSWORD, a model on Entra ID: each new connection logs
    in with the current token for the ossrdbms-aad scope."""
    m = Mock(tmp_path, "--token", "secret=s3cret", name="entra-mock")
    try:
        entra_role(pg, "entra_user")
        s = entra_serve(spawn, pg, m, "entra_user")
        util.wait_for(lambda: PG_AUD in m.get("/_mock/tokens")["latest"],
                      10 * SLOW, what="a token for the database")
        token = m.get("/_mock/tokens")["latest"][PG_AUD]
        # the role takes that token as its password: the next attempt logs in
        pg.psql("ALTER ROLE entra_user PASSWORD '%s'" % token)
        util.wait_for(lambda: get(s.port, "/items/1").status == 200,
                      15 * SLOW, what="a connection with the token")
        assert "password authentication failed" in s.log
    finally:
        m.stop()


def test_reconnect_after_expiry_uses_a_new_token(spawn, pg, tmp_path):
    """The pool's connections, lost after their token expired, come back
    with a token fetched anew: the old one no longer logs in, the new one
    does, and the mock issued exactly those two for the database."""
    ttl = round(3 * SLOW)      # the second token must outlive the checks
    m = Mock(tmp_path, "--token", "secret=s3cret,ttl=%d,delay_ms=%d,"
             "only=ossrdbms" % (ttl, 1000 * SLOW), name="entra-mock")
    follow = TokenPasswords(pg, m, "entra_refresh", ttl)
    try:
        entra_role(pg, "entra_refresh")
        follow.start()
        s = entra_serve(spawn, pg, m, "entra_refresh")
        util.wait_for(lambda: get(s.port, "/items/1").status == 200,
                      15 * SLOW, what="a connection with the first token")
        util.wait_for(lambda: len(backends(pg, "entra_refresh")) == 2,
                      15 * SLOW, what="the pool's two connections")
        first = backends(pg, "entra_refresh")
        assert len(follow.tokens) == 1, follow.tokens
        # past the token's expiry (llmfork got it delay_ms after the mock
        # issued it), the server ends the sessions
        util.wait_for(lambda: follow.expired, 10 * SLOW, what="the expiry")
        time.sleep(SLOW)
        assert not logs_in(pg, "entra_refresh", follow.tokens[0])
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE usename = 'entra_refresh'")
        util.wait_for(lambda: get(s.port, "/items/1").status == 200,
                      20 * SLOW, what="a connection with a new token")
        util.wait_for(lambda: len(backends(pg, "entra_refresh")) == 2,
                      20 * SLOW, what="the pool's two connections again")
        assert not backends(pg, "entra_refresh") & first
        assert len(follow.tokens) == 2, follow.tokens
        assert m.get("/_mock/tokens")["issued_for"][PG_AUD] == 2
        # only the second token logs in, and the pool's new sessions did
        assert logs_in(pg, "entra_refresh", follow.tokens[1])
        assert not logs_in(pg, "entra_refresh", follow.tokens[0])
    finally:
        follow.stop()
        m.stop()


def test_names_and_ssl_mode_checked_at_start(cli, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("rag = postgres\npostgres_table = items; DROP TABLE x\n"
                    "postgres_embedding_column = Embedding\n"
                    "postgres_ssl = allow\n")
    rc, out, err = cli(["--check-config", "-c", str(conf)])
    assert rc == 2, (out, err)
    assert "bad.conf:2: " in err and "not a plain SQL name" in err
    assert "bad.conf:3: " in err
    assert "bad.conf:4: " in err and "disable, require, verify-full" in err
