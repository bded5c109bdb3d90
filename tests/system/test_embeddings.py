"""POST /v1/embeddings through the gateway: passed through to the provider
in OpenAI's shape ({base}/embeddings, the model as the client named it),
Azure's deployment shape (/openai/deployments/{embedding_deployment}/
embeddings?api-version=) and Azure's v1 shape (/openai/v1/embeddings,
model = the deployment), with the provider's answer and errors as they
came. The mock's embeddings endpoint answers as the real one does."""
import base64
import json
import struct

import pytest

from upstream import KEY, Mock, mock, post, serve  # noqa: F401

EMB = "emb-dep"
AZ_Q = "?api-version=2024-10-21"
BODY = {"model": "text-embedding-3-small", "input": ["red shoes", "blue hat"],
        "dimensions": 8}


def direct(mock, path, body, azure=False):
    h = {"api-key": KEY} if azure else {"Authorization": "Bearer " + KEY}
    return post(mock.port, path, body, headers=h)


def azure_env():
    return {"AZURE_OPENAI_EMB_DEPLOYMENT": EMB}


def vectors(reply):
    return [d["embedding"] for d in reply["data"]]


def test_openai_shape(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\n")
    r = post(srv.port, "/v1/embeddings", BODY)
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/json")
    up = mock.last()
    assert up["path"] == "/v1/embeddings" and up["json"] == BODY
    reply = r.json()
    assert reply["object"] == "list" and reply["model"] == BODY["model"]
    assert [d["index"] for d in reply["data"]] == [0, 1]
    assert all(len(v) == 8 for v in vectors(reply))
    assert vectors(reply)[0] != vectors(reply)[1]
    assert reply["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert reply == direct(mock, "/v1/embeddings", BODY).json()
    # The same through Azure's v1 path of the gateway.
    r2 = post(srv.port, "/openai/v1/embeddings", BODY)
    assert r2.status == 200 and r2.json() == reply


def test_base64_passes_through(spawn, mock):
    """The openai SDKs ask for base64 unless told: float32, little-endian."""
    srv = serve(spawn, mock, "openai")
    floats = vectors(post(srv.port, "/v1/embeddings", BODY).json())
    r = post(srv.port, "/v1/embeddings", dict(BODY, encoding_format="base64"))
    assert r.status == 200, r.body
    for enc, want in zip(vectors(r.json()), floats):
        got = struct.unpack("<8f", base64.b64decode(enc))
        assert got == pytest.approx(want, abs=1e-6)


def test_provider_errors_pass_through(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="max_retries = 0\n")
    for body, param in ((dict(BODY, input=[]), None),
                        (dict(BODY, input=""), None),
                        (dict(BODY, encoding_format="hex"), "encoding_format")):
        r = post(srv.port, "/v1/embeddings", body)
        assert r.status == 400, (body, r.body)
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and err["param"] == param
        ref = direct(mock, "/v1/embeddings", body).json()["error"]
        assert err["message"].endswith(ref["message"]), (err, ref)
    # What the gateway refuses itself: no input, not JSON.
    n = mock.stats()["requests"]
    r = post(srv.port, "/v1/embeddings", {"model": "m"})
    assert r.status == 400 and r.json()["error"]["param"] == "input"
    assert post(srv.port, "/v1/embeddings", b"{no").status == 400
    assert mock.stats()["requests"] == n


def test_throttled_provider(spawn, tmp_path):
    m = Mock(tmp_path, "--embed-fault", "429:ms=1500", name="m429")
    try:
        srv = serve(spawn, m, "openai", conf="max_retries = 0\n")
        r = post(srv.port, "/v1/embeddings", BODY)
        assert r.status == 429, r.body
        assert r.json()["error"]["message"]
        assert r.headers.get("retry-after-ms") == "1500", r.headers
    finally:
        assert m.stop() == 0


@pytest.mark.parametrize("path", ["/openai/deployments/whatever/embeddings" + AZ_Q,
                                  "/v1/embeddings"])
def test_azure_deployment_shape(spawn, mock, path):
    srv = serve(spawn, mock, "azure", env=azure_env(), conf="max_retries = 0\n")
    r = post(srv.port, path, BODY)
    assert r.status == 200, r.body
    up = mock.last()
    assert up["path"] == "/openai/deployments/%s/embeddings" % EMB
    assert up["query"].startswith("api-version=")
    assert "model" not in up["json"] and up["json"]["input"] == BODY["input"]
    assert r.json()["model"] == EMB and len(r.json()["data"]) == 2
    assert r.json() == direct(mock, up["path"] + "?" + up["query"],
                              up["json"], azure=True).json()


def test_azure_path_needs_api_version(spawn, mock):
    srv = serve(spawn, mock, "azure", env=azure_env())
    r = post(srv.port, "/openai/deployments/d/embeddings", BODY)
    assert r.status == 400 and "api-version" in r.json()["error"]["message"]
    assert mock.stats()["requests"] == 0


def test_azure_v1_shape(spawn, mock):
    srv = serve(spawn, mock, "azure-v1", env=azure_env())
    r = post(srv.port, "/openai/v1/embeddings", BODY)
    assert r.status == 200, r.body
    up = mock.last()
    assert up["path"] == "/openai/v1/embeddings" and up["json"]["model"] == EMB


@pytest.mark.parametrize("provider,env", [("azure", {}), ("mock", {})])
def test_no_embeddings_is_a_404(spawn, mock, provider, env):
    srv = serve(spawn, mock, provider, env=env)
    r = post(srv.port, "/v1/embeddings", BODY)
    assert r.status == 404, r.body
    assert r.json()["error"]["code"] == "not_supported"


def test_gateway_keys(spawn, mock):
    srv = serve(spawn, mock, "openai", conf="gateway_keys = gk-1\n")
    assert post(srv.port, "/v1/embeddings", BODY).status == 401
    r = post(srv.port, "/v1/embeddings", BODY, headers={"Authorization": "Bearer gk-1"})
    assert r.status == 200
    # The provider got its own key, not the client's.
    assert mock.last()["headers"].get("authorization") == "Bearer " + KEY, \
        json.dumps(mock.last())[:300]
