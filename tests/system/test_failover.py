"""Failover across azure_endpoints (worker/model/failover.h): two mocks serve the
same deployment; a throttled or dead one is skipped before the client
sees a byte, and healthy ones share the load by weight. An endpoint may
name its own deployment instead.
"""
import pytest

from upstream import DEPLOYMENT, KEY, Mock, chat_body, oai_body, post, say, serve
import util


@pytest.fixture
def pair(tmp_path):
    """(throttled mock: every answer 429 with retry-after 30 s, healthy mock)."""
    a = Mock(tmp_path, "--fault", "429:ms=30000", name="throttled")
    b = Mock(tmp_path, name="healthy")
    yield a, b
    for m in (a, b):
        assert m.stop() == 0, m.log


def endpoints(*items, provider="azure", key=KEY):
    return {"LLMFORK_PROVIDER": provider, "AZURE_OPENAI_ENDPOINT": None,
            "AZURE_OPENAI_ENDPOINTS": ", ".join(items),
            "AZURE_OPENAI_CHAT_DEPLOYMENT": DEPLOYMENT, "AZURE_OPENAI_API_KEY": key}


def chat(srv, tokens=3):
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=tokens)))
    assert r.status == 200, (r.body, srv.log)
    return r.json()["message"]["content"]


def test_a_throttled_endpoint_cools_down_and_every_request_succeeds(spawn, pair):
    a, b = pair
    srv = serve(spawn, None, env=endpoints(a.url, b.url))
    for _ in range(8):
        assert chat(srv) == b.answer(3)
    assert a.stats()["requests"] == 1       # its 429 sent it away for 30 s
    assert b.stats()["requests"] == 8
    assert "trying another endpoint" in srv.log


def test_streams_and_the_gateway_fail_over_too(spawn, pair):
    a, b = pair
    srv = serve(spawn, None, provider="azure-v1",
                env=endpoints(a.url + "/", b.url + "/", provider="azure-v1"))
    r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", tokens=4)))
    assert r.status == 200, r.body
    assert b"[DONE]" in r.body
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=4)))
    assert r.status == 200 and r.complete, r.body
    # the chat app and the gateway each keep their own cool-downs
    assert a.stats()["requests"] == 2 and b.stats()["requests"] == 2


def test_healthy_endpoints_share_requests_by_weight(spawn, tmp_path):
    a, b = Mock(tmp_path, name="a"), Mock(tmp_path, name="b")
    try:
        srv = serve(spawn, None, env=endpoints(a.url + "*3", b.url))
        for _ in range(12):
            chat(srv, 1)
        assert (a.stats()["requests"], b.stats()["requests"]) == (9, 3)
    finally:
        assert a.stop() == 0 and b.stop() == 0


def test_a_dead_endpoint_is_skipped(spawn, tmp_path):
    b = Mock(tmp_path, name="b")
    dead = "http://127.0.0.1:%d" % util.free_port()
    try:
        srv = serve(spawn, None, env=endpoints(dead, b.url))
        for _ in range(4):
            assert chat(srv) == b.answer(3)
        assert b.stats()["requests"] == 4
    finally:
        assert b.stop() == 0


def test_all_throttled_gives_the_429_after_the_retries(spawn, tmp_path):
    a = Mock(tmp_path, "--fault", "429:ms=200", name="a")
    b = Mock(tmp_path, "--fault", "429:ms=200", name="b")
    try:
        srv = serve(spawn, None, conf="max_retries = 1\n", env=endpoints(a.url, b.url))
        r = post(srv.port, "/chat", chat_body("hi"))
        assert r.status == 429, r.body
        assert r.headers.get("retry-after") == "1"
        # a pass over both, one wait for the first back, then a pass over
        # whichever are back by then (the other may still be cooling)
        na, nb = a.stats()["requests"], b.stats()["requests"]
        assert na == 2 and 1 <= nb <= 2, (na, nb)
    finally:
        assert a.stop() == 0 and b.stop() == 0


def test_endpoints_may_name_their_own_deployments(spawn, tmp_path):
    """Several deployments of one resource, each with its own quota, share
    a route: an item ending in /openai/deployments/NAME (the portal's
    target URI) is called on that deployment, and with every item naming
    one no AZURE_OPENAI_CHAT_DEPLOYMENT is needed."""
    a = Mock(tmp_path, name="a")
    try:
        env = endpoints(a.url + "/openai/deployments/gpt-4o-1*3",
                        a.url + "/openai/deployments/gpt-4o-2/")
        env["AZURE_OPENAI_CHAT_DEPLOYMENT"] = None
        srv = serve(spawn, None, env=env)
        for _ in range(4):
            assert chat(srv) == a.answer(3)
        paths = [q["path"] for q in a.requests()]
        assert paths.count("/openai/deployments/gpt-4o-1/chat/completions") == 3, paths
        assert paths.count("/openai/deployments/gpt-4o-2/chat/completions") == 1, paths
        r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=2)))
        assert r.status == 200 and r.complete, r.body
        assert r.body.split(b"\n")[0].count(b'"model":"gpt-4o-1"') == 1, r.body
        # the gateway's calls go to the named deployments too
        r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", tokens=2)))
        assert r.status == 200 and b"[DONE]" in r.body, r.body
        assert a.last()["path"] in (
            "/openai/deployments/gpt-4o-1/chat/completions",
            "/openai/deployments/gpt-4o-2/chat/completions"), a.last()
    finally:
        assert a.stop() == 0


def test_endpoints_in_several_resources_each_use_their_own_key(spawn, tmp_path):
    """AZURE_OPENAI_API_KEYS: a key per endpoint, in order; each mock
    refuses the other's key, so a request sent with the wrong one fails."""
    a = Mock(tmp_path, name="a", keys=("key-of-a",))
    b = Mock(tmp_path, name="b", keys=("key-of-b",))
    try:
        env = endpoints(a.url, b.url, key=None)
        env["AZURE_OPENAI_API_KEYS"] = "key-of-a, key-of-b"
        srv = serve(spawn, None, env=env)
        for _ in range(4):
            assert chat(srv) == a.answer(3)
        r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", tokens=2)))
        assert r.status == 200 and b"[DONE]" in r.body, r.body
        assert (a.stats()["requests"], b.stats()["requests"]) == (3, 2)
    finally:
        assert a.stop() == 0 and b.stop() == 0


@pytest.mark.parametrize("endpoints_n, keys", [(2, "k1"), (1, "k1, k2"), (0, "k1")])
def test_a_key_count_unlike_the_endpoints_fails_to_boot(cli, endpoints_n, keys):
    env = {k: v for k, v in endpoints(*["http://127.0.0.1:9"] * endpoints_n,
                                      key=None).items() if v is not None}
    env["AZURE_OPENAI_API_KEYS"] = keys
    if endpoints_n == 0:
        del env["AZURE_OPENAI_ENDPOINTS"]
        env["AZURE_OPENAI_ENDPOINT"] = "http://127.0.0.1:9"
    rc, out, err = cli(["-b", "127.0.0.1:0", "-w", "1"], env=env)
    assert rc != 0
    assert "AZURE_OPENAI_API_KEYS has %d key(s) for %d" % (
        len(keys.split(",")), endpoints_n) in err, err


@pytest.mark.parametrize("provider, item, why", [
    ("azure-v1", "/openai/deployments/d", "needs provider azure"),
    ("azure", "/openai/deployments/d/chat/completions", "must end the URL"),
    ("azure", "/openai/deployments", "must end the URL"),
    ("azure", "", "AZURE_OPENAI_CHAT_DEPLOYMENT"),
])
def test_a_bad_deployment_in_an_endpoint_fails_to_boot(cli, provider, item, why):
    env = {k: v for k, v in endpoints("http://127.0.0.1:9" + item,
                                      provider=provider).items() if v is not None}
    del env["AZURE_OPENAI_CHAT_DEPLOYMENT"]
    rc, out, err = cli(["-b", "127.0.0.1:0", "-w", "1"], env=env)
    assert rc != 0
    assert why in err, err


def test_the_single_endpoint_is_the_resource_url(cli):
    env = {"LLMFORK_PROVIDER": "azure", "AZURE_OPENAI_API_KEY": KEY,
           "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9/openai/deployments/d",
           "AZURE_OPENAI_CHAT_DEPLOYMENT": DEPLOYMENT}
    rc, out, err = cli(["-b", "127.0.0.1:0", "-w", "1"], env=env)
    assert rc != 0
    assert "is the resource's URL" in err, err
