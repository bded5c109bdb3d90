"""Each provider's URL, headers and body as the real services want them,
configured by the environment names the samples use and by the config
file; the chat app's answer is the mock's answer through each.
"""
import pytest

from upstream import (DEPLOYMENT, KEY, MODEL, chat_body, mock, post,  # noqa: F401
                      say, serve)


def ask(srv, mock, tokens=4):
    r = post(srv.port, "/chat/stream", chat_body(say("hi", tokens=tokens)))
    assert r.status == 200, (r.body, srv.log)
    assert r.complete
    lines = r.ndjson()
    assert "".join(l["delta"]["content"] for l in lines[1:]) == mock.answer(tokens)
    return mock.last()


def file_conf(mock, provider, version=None):
    if provider == "openai":
        return ("provider = openai\nopenai_base_url = %s/v1\nopenai_api_key = %s\n"
                "openai_model = %s\n" % (mock.url, KEY, MODEL))
    conf = ("provider = %s\nazure_endpoint = %s\nazure_deployment = %s\n"
            "azure_api_key = %s\n" % (provider, mock.url, DEPLOYMENT, KEY))
    if version:
        conf += "azure_api_version = %s\n" % version
    return conf


def check_azure(up, version):
    assert up["path"] == "/openai/deployments/%s/chat/completions" % DEPLOYMENT
    assert up["query"] == "api-version=" + version
    assert up["headers"]["api-key"] == KEY
    assert "authorization" not in up["headers"]
    assert "model" not in up["json"]
    assert up["headers"]["content-type"] == "application/json"


def check_azure_v1(up):
    assert up["path"] == "/openai/v1/chat/completions"
    assert up["query"] == ""
    assert up["headers"]["api-key"] == KEY
    assert "authorization" not in up["headers"]
    assert up["json"]["model"] == DEPLOYMENT


def check_openai(up):
    assert up["path"] == "/v1/chat/completions"
    assert up["headers"]["authorization"] == "Bearer " + KEY
    assert "api-key" not in up["headers"]
    assert up["json"]["model"] == MODEL


def check(provider, up, version=None):
    if provider == "azure":
        check_azure(up, version)
    elif provider == "azure-v1":
        check_azure_v1(up)
    else:
        check_openai(up)


@pytest.mark.parametrize("provider, version", [
    ("azure", "2024-10-21"),        # the default api-version
    ("azure-v1", None), ("openai", None)])
def test_from_env(spawn, mock, provider, version):
    srv = serve(spawn, mock, provider)
    check(provider, ask(srv, mock), version)


@pytest.mark.parametrize("provider, version", [
    ("azure", "2024-06-01"), ("azure-v1", None), ("openai", None)])
def test_from_config_file(spawn, mock, provider, version):
    srv = serve(spawn, None, provider, conf=file_conf(mock, provider, version),
                env={"LLMFORK_PROVIDER": None})
    check(provider, ask(srv, mock), version)


def test_azure_from_env_version_and_key_alias(spawn, mock):
    srv = serve(spawn, mock, "azure", env={
        "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
        "AZURE_OPENAI_API_KEY": None, "AZURE_OPENAI_KEY": KEY})
    check_azure(ask(srv, mock), "2025-04-01-preview")


def test_env_overrides_file(spawn, mock):
    """LLMFORK_PROVIDER picks the provider over the file's."""
    conf = file_conf(mock, "openai") + ("azure_endpoint = %s\nazure_deployment = %s\n"
                                        "azure_api_key = %s\n" % (mock.url, DEPLOYMENT, KEY))
    srv = serve(spawn, None, "azure-v1", conf=conf)
    check_azure_v1(ask(srv, mock))


@pytest.mark.parametrize("provider", ["azure", "azure-v1", "openai"])
def test_non_streaming_through_each(spawn, mock, provider):
    srv = serve(spawn, mock, provider)
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=5)))
    assert r.status == 200, r.body
    assert r.json()["message"]["content"] == mock.answer(5)


@pytest.mark.parametrize("provider, missing", [
    ("azure", "AZURE_OPENAI_ENDPOINT"), ("azure-v1", "AZURE_OPENAI_CHAT_DEPLOYMENT")])
def test_incomplete_provider_settings_fail_to_boot(cli, provider, missing):
    env = {"LLMFORK_PROVIDER": provider, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
           "AZURE_OPENAI_CHAT_DEPLOYMENT": "d", "AZURE_OPENAI_API_KEY": "k"}
    del env[missing]
    rc, out, err = cli(["-b", "127.0.0.1:0", "-w", "1"], env=env)
    assert rc != 0
    assert missing in err, err


def test_http2_setting_with_a_cleartext_upstream(spawn, mock):
    """http2 = true asks for HTTP/2 over TLS; a plain-http upstream still
    works (HTTP/1.1)."""
    srv = serve(spawn, mock, "openai", conf="http2 = true\n")
    check_openai(ask(srv, mock, tokens=6))


def test_proxy_environment_is_honoured(spawn, mock):
    """curl's http_proxy: the upstream host does not resolve; the request
    reaches the mock acting as the proxy, in absolute form."""
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\n", env={
        "OPENAI_BASE_URL": "http://upstream.invalid/v1",
        "http_proxy": mock.url, "no_proxy": ""})
    up = ask(srv, mock, tokens=3)
    check_openai(up)
    assert up["headers"]["host"] == "upstream.invalid"
    r = post(srv.port, "/chat", {"messages": [{"role": "user", "content": "x"}]})
    assert r.status == 200, r.body


# ---- TLS to the upstream -----------------------------------------------------------

@pytest.fixture
def tls(tmp_path, mock):
    from upstream import TlsFront, make_cert
    cert, key = make_cert(tmp_path)
    front = TlsFront(mock, cert, key)
    yield front, cert
    front.close()


@pytest.mark.parametrize("http2", [False, True])
def test_tls_upstream_with_ca_file(spawn, mock, tls, http2):
    front, cert = tls
    srv = serve(spawn, mock, "openai", conf="ca_file = %s\nhttp2 = %s\n"
                % (cert, "true" if http2 else "false"),
                env={"OPENAI_BASE_URL": front.url + "/v1"})
    check_openai(ask(srv, mock, tokens=5))


def test_tls_upstream_is_verified(spawn, mock, tls):
    """An upstream certificate nobody vouches for is refused: 502, and the
    request never reached the model."""
    front, cert = tls
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\n",
                env={"OPENAI_BASE_URL": front.url + "/v1"})
    r = post(srv.port, "/chat/stream", chat_body("hi"))
    assert r.status == 502, r.body
    assert "error" in r.json()
    assert mock.stats()["requests"] == 0
    assert front.handshakes_failed >= 1
