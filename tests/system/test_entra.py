"""Entra ID tokens instead of an API key (worker/model/auth/entra.h), end to end: the
mock (started with --token require) issues tokens at its AAD, App Service
and IMDS endpoints and its chat endpoint takes only those tokens.
"""
import concurrent.futures
import time

import pytest

from upstream import DEPLOYMENT, Mock, chat_body, oai_body, post, say, serve
from util import SLOW

SECRET = "s3cret-value"
ENTRA_ENV = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "AZURE_TENANT_ID",
             "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
             "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
             "AZURE_POD_IDENTITY_AUTHORITY_HOST")


def start_mock(tmp_path, spec="require"):
    return Mock(tmp_path, "--token", spec, name="entra-mock")


@pytest.fixture
def tmock(tmp_path):
    m = start_mock(tmp_path, "require,secret=%s,delay_ms=200" % SECRET)
    yield m
    assert m.stop() == 0, m.log


def entra(mock, provider="azure", conf="", **env):
    """Settings with no key: only what each credential needs."""
    e = {k: None for k in ENTRA_ENV}
    e.update({"LLMFORK_PROVIDER": provider, "AZURE_OPENAI_ENDPOINT": mock.url,
              "AZURE_OPENAI_CHAT_DEPLOYMENT": DEPLOYMENT})
    e.update(env)
    return e


def secret_env(mock, secret=SECRET):
    return {"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "client-1",
            "AZURE_CLIENT_SECRET": secret, "AZURE_AUTHORITY_HOST": mock.url}


def tokens(mock):
    return mock.get("/_mock/tokens")


def ask_ok(srv, mock, tokens_=4):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=tokens_)))
    assert r.status == 200, (r.body, srv.log)
    text = "".join(l["delta"].get("content") or "" for l in r.ndjson()[1:])
    assert text == mock.answer(tokens_)


def test_client_secret_token_reaches_the_model(spawn, tmock):
    srv = serve(spawn, None, env=entra(tmock, **secret_env(tmock)))
    ask_ok(srv, tmock)
    t = tokens(tmock)
    assert t["issued"] == 1 and t["refused"] == 0
    last = t["last"]
    assert last["method"] == "POST" and last["path"] == "/tenant-1/oauth2/v2.0/token"
    assert last["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert last["form"] == {"grant_type": "client_credentials", "client_id": "client-1",
                            "client_secret": SECRET,
                            "scope": "https://cognitiveservices.azure.com/.default"}
    up = tmock.last()
    assert up["headers"]["authorization"].startswith("Bearer mock-entra-")
    assert "api-key" not in up["headers"]


def test_gateway_uses_the_token_too(spawn, tmock):
    srv = serve(spawn, None, provider="azure-v1",
                env=entra(tmock, "azure-v1", **secret_env(tmock)))
    r = post(srv.port, "/v1/chat/completions", oai_body(say("hi", tokens=3), stream=False))
    assert r.status == 200, (r.body, srv.log)
    assert r.json()["choices"][0]["message"]["content"] == tmock.answer(3)


def test_concurrent_first_requests_share_one_token_request(spawn, tmock):
    srv = serve(spawn, None, env=entra(tmock, **secret_env(tmock)))
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        replies = list(pool.map(
            lambda i: post(srv.port, "/chat", chat_body(say("hi", tokens=2))), range(40)))
    assert [r.status for r in replies] == [200] * 40, replies[0].body
    assert tokens(tmock)["requests"] == 1
    assert tmock.stats()["requests"] == 40


def test_expiry_refreshes_the_token(spawn, tmp_path):
    m = start_mock(tmp_path, "require,ttl=2")
    try:
        srv = serve(spawn, None, env=entra(m, **secret_env(m)))
        ask_ok(srv, m, 2)
        first = m.last()["headers"]["authorization"]
        time.sleep(2.2)
        ask_ok(srv, m, 2)
        assert tokens(m)["issued"] == 2
        assert m.last()["headers"]["authorization"] != first
        assert tokens(m)["refused"] == 0
    finally:
        assert m.stop() == 0, m.log


def test_wrong_secret_is_a_quick_502_and_a_log_line(spawn, tmock):
    srv = serve(spawn, None, env=entra(tmock, **secret_env(tmock, "wrong")))
    t0 = time.monotonic()
    r = post(srv.port, "/chat", chat_body("hi"))
    assert r.status == 502, r.body
    err = r.json()["error"]
    assert "could not get an Entra ID token" in err and "invalid_client" in err, err
    assert "wrong" not in err
    assert time.monotonic() - t0 < 3 * SLOW
    assert tmock.stats()["requests"] == 0
    assert "could not get an Entra ID token" in srv.log


def test_failing_token_endpoint_is_a_502_not_a_hang(spawn, tmp_path):
    m = start_mock(tmp_path, "require,fail=503")
    try:
        srv = serve(spawn, None, conf="max_retries = 1\n", env=entra(m, **secret_env(m)))
        t0 = time.monotonic()
        r = post(srv.port, "/v1/chat/completions", oai_body("hi", stream=False))
        assert r.status == 502, r.body
        assert "could not get an Entra ID token" in r.json()["error"]["message"]
        assert time.monotonic() - t0 < 5 * SLOW
        assert tokens(m)["requests"] == 2       # fetch's one retry on 503
    finally:
        assert m.stop() == 0, m.log


def test_app_service_managed_identity(spawn, tmock):
    srv = serve(spawn, None, env=entra(tmock, IDENTITY_ENDPOINT=tmock.url + "/msi/token",
                                       IDENTITY_HEADER="id-header-1"))
    ask_ok(srv, tmock)
    last = tokens(tmock)["last"]
    assert last["method"] == "GET" and last["path"] == "/msi/token"
    assert last["headers"]["x-identity-header"] == "id-header-1"
    assert last["form"] == {"api-version": "2019-08-01",
                            "resource": "https://cognitiveservices.azure.com"}


def test_imds_managed_identity_with_a_user_assigned_client_id(spawn, tmock):
    srv = serve(spawn, None, env=entra(tmock, AZURE_POD_IDENTITY_AUTHORITY_HOST=tmock.url,
                                       AZURE_CLIENT_ID="uami-7"))
    ask_ok(srv, tmock)
    last = tokens(tmock)["last"]
    assert last["path"] == "/metadata/identity/oauth2/token"
    assert last["headers"]["metadata"] == "true"
    assert last["form"] == {"api-version": "2018-02-01", "client_id": "uami-7",
                            "resource": "https://cognitiveservices.azure.com"}


def test_workload_identity_reads_the_token_file_each_time(spawn, tmp_path):
    m = start_mock(tmp_path, "require,ttl=2")
    f = tmp_path / "federated-token"
    f.write_text("eyJ.first.jwt\n")
    try:
        srv = serve(spawn, None, env=entra(m, AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c",
                                           AZURE_AUTHORITY_HOST=m.url,
                                           AZURE_FEDERATED_TOKEN_FILE=str(f)))
        ask_ok(srv, m, 2)
        form = tokens(m)["last"]["form"]
        assert form["client_assertion"] == "eyJ.first.jwt"
        assert form["client_assertion_type"] == \
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        assert "client_secret" not in form
        f.write_text("eyJ.rotated.jwt")
        time.sleep(2.2)
        ask_ok(srv, m, 2)
        assert tokens(m)["last"]["form"]["client_assertion"] == "eyJ.rotated.jwt"
    finally:
        assert m.stop() == 0, m.log


def test_half_configured_secret_fails_to_boot(cli, tmp_path):
    env = {k: "" for k in ENTRA_ENV}        # set-but-empty counts as unset
    env.update({"LLMFORK_PROVIDER": "azure", "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
                "AZURE_OPENAI_CHAT_DEPLOYMENT": "d", "AZURE_CLIENT_SECRET": "x"})
    rc, out, err = cli(["-b", "127.0.0.1:0", "-w", "1"], env=env)
    assert rc != 0
    assert "AZURE_TENANT_ID" in err, err
