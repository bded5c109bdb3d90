"""Login and access control (use_authentication, the sample's
AZURE_USE_AUTHENTICATION): /auth_setup's MSAL settings as the
azure-search-openai-demo's frontend reads them (authConfig.ts), /chat and
/chat/stream behind an Entra ID access token checked against the tenant's
keys (served by the mock from a JSON Web Key Set the test writes, tokens
signed here: entra_user.py), and the security filter on oids and groups
that reaches the search service (the mock's index trims by it).
"""
import json
import time

import pytest

import entra_user as eu
from upstream import KEY, Mock, chat_body, get, post, say, serve

KEYS_PATH = "/%s/discovery/v2.0/keys" % eu.TENANT
SEARCH = "/indexes/acl/docs/search"
DOCS = [
    {"id": "1", "sourcepage": "mine.pdf", "content": "vacation policy for me",
     "oids": [eu.OID], "groups": []},
    {"id": "2", "sourcepage": "team.pdf", "content": "vacation policy team",
     "oids": [], "groups": ["g-2222"]},
    {"id": "3", "sourcepage": "secret.pdf", "content": "vacation policy hidden",
     "oids": ["someone-else"], "groups": ["g-9999"]},
]
QUESTION = "What is the vacation policy?"


@pytest.fixture
def keys(tmp_path):
    k = eu.SigningKey(tmp_path, "kid-1")
    eu.write_jwks(tmp_path / "jwks.json", [k])
    return k


@pytest.fixture
def amock(tmp_path, keys):
    index = tmp_path / "acl.json"
    index.write_text(json.dumps({"name": "acl", "value": DOCS}))
    m = Mock(tmp_path, "--index", str(index), "--jwks",
             str(tmp_path / "jwks.json"), name="amock")
    yield m
    rc = m.stop()
    assert "Sanitizer" not in m.log and "runtime error" not in m.log, m.log
    assert rc == 0, m.log


def login_env(mock, **extra):
    env = {"LLMFORK_RAG": "search", "AZURE_SEARCH_ENDPOINT": mock.url,
           "AZURE_SEARCH_INDEX": "acl", "AZURE_SEARCH_KEY": KEY,
           "AZURE_USE_AUTHENTICATION": "true",
           "AZURE_SERVER_APP_ID": eu.SERVER_APP,
           "AZURE_CLIENT_APP_ID": eu.CLIENT_APP,
           "AZURE_AUTH_TENANT_ID": eu.TENANT,
           "LLMFORK_AUTH_AUTHORITY_HOST": mock.url}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


@pytest.fixture
def srv(spawn, amock):
    return serve(spawn, amock, "azure", conf="max_retries = 0\n",
                 env=login_env(amock))


def ask(port, token=None, headers=None, path="/chat/stream", **extra):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    return post(port, path, chat_body(say(QUESTION, delay_ms=1), **extra),
                headers=h)


def searches(mock):
    return [json.loads(r["body"]) for r in mock.requests()
            if r["path"] == SEARCH]


def key_fetches(mock):
    return mock.stats()["by_path"].get(KEYS_PATH, 0)


def test_auth_setup_when_login_is_off(spawn, amock):
    s = serve(spawn, amock, "azure", env=login_env(
        amock, AZURE_USE_AUTHENTICATION=None, AZURE_CLIENT_APP_ID=None))
    r = get(s.port, "/auth_setup")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    setup = r.json()
    assert setup["useLogin"] is False
    assert setup["requireAccessControl"] is False
    assert setup["msalConfig"]["auth"]["clientId"] is None
    # Off, the chat needs no token and fetches no keys.
    r = ask(s.port)
    assert r.status == 200, r.body
    assert key_fetches(amock) == 0
    assert "filter" not in searches(amock)[-1]


def test_auth_setup_when_login_is_on(srv, amock):
    setup = get(srv.port, "/auth_setup").json()
    assert setup["useLogin"] is True and setup["requireAccessControl"] is False
    auth = setup["msalConfig"]["auth"]
    assert auth == {"clientId": eu.CLIENT_APP,
                    "authority": amock.url + "/" + eu.TENANT,
                    "redirectUri": "/redirect", "postLogoutRedirectUri": "/",
                    "navigateToLoginRequestUrl": False}
    assert setup["msalConfig"]["cache"]["cacheLocation"] in (
        "localStorage", "sessionStorage")
    assert setup["loginRequest"] == {"scopes": [".default"]}
    assert setup["tokenRequest"] == {
        "scopes": ["api://%s/access_as_user" % eu.SERVER_APP]}
    # MSAL's redirectUri is an empty page.
    r = get(srv.port, "/redirect")
    assert r.status == 200 and r.body == b""


@pytest.mark.parametrize("over", [
    {},                                                     # v2, bare id
    {"aud": "api://" + eu.SERVER_APP},
    {"iss": eu.ISS_V1, "ver": "1.0"},                       # a v1 token
    {"nbf": None, "exp": int(time.time()) + 30},            # no nbf
])
def test_a_good_token_gets_the_answer(srv, amock, keys, over):
    for path in ("/chat/stream", "/chat"):
        r = ask(srv.port, keys.token(eu.claims(**over)), path=path)
        assert r.status == 200, r.body
    lines = r.json()
    assert lines["message"]["role"] == "assistant"
    # Keys are fetched once and cached.
    assert key_fetches(amock) == 1


def test_app_service_header_carries_the_token_too(srv, keys):
    r = ask(srv.port, headers={
        "x-ms-token-aad-access-token": keys.token(eu.claims())})
    assert r.status == 200, r.body


def _refused(r, why):
    assert r.status == 401, (r.status, r.body)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert why in r.json()["error"], r.json()


def test_bad_tokens_are_401(srv, amock, keys, tmp_path):
    now = int(time.time())
    other = eu.SigningKey(tmp_path, "kid-other")
    good = keys.token(eu.claims())
    head, body, sig = good.split(".")
    tampered = eu.b64url(json.dumps(eu.claims(oid="admin")).encode())
    cases = [
        (None, "Authorization header is expected"),
        (keys.token(eu.claims(exp=now - 120)), "expired"),
        (keys.token(eu.claims(nbf=now + 600)), "not valid yet"),
        (keys.token(eu.claims(aud="api://someone-else")), "audience"),
        (keys.token(eu.claims(aud=None)), "audience"),
        (keys.token(eu.claims(iss="https://login.microsoftonline.com/"
                                  "other-tenant/v2.0")), "issuer"),
        (keys.token(eu.claims(exp=None)), "exp"),
        # Signed by another key under kid-1's name, or changed after.
        (other.token(eu.claims(), kid="kid-1"), "signature"),
        (".".join([head, tampered, sig]), "signature"),
        (keys.token(eu.claims(), alg="HS256"), "RS256"),
        (head + "." + body + ".", "signature"),
        ("not-a-jwt", "JWT"),
        ("a.b.c", "header"),
    ]
    for token, why in cases:
        _refused(ask(srv.port, token), why)
    _refused(ask(srv.port, headers={"Authorization": "Basic dXNlcjpwdw=="}),
             "must start with Bearer")
    _refused(ask(srv.port, headers={"Authorization": "Bearer a b"}),
             "must be Bearer token")
    # None of them reached the model or the search.
    assert all(r["path"] == KEYS_PATH for r in amock.requests())
    # A good one still works on the same keys.
    assert ask(srv.port, good).status == 200


def test_unknown_kid_refetches_the_keys_at_most_so_often(srv, amock, keys,
                                                         tmp_path):
    assert ask(srv.port, keys.token(eu.claims())).status == 200
    assert key_fetches(amock) == 1
    new = eu.SigningKey(tmp_path, "kid-2")
    # Not published yet: refused after one refetch...
    _refused(ask(srv.port, new.token(eu.claims())), "kid-2")
    fetched = key_fetches(amock)
    assert fetched <= 2
    # ...and made-up kids do not make it fetch again at once.
    for i in range(5):
        _refused(ask(srv.port, new.token(eu.claims(), kid="made-up-%d" % i)),
                 "made-up")
    assert key_fetches(amock) == fetched
    # Entra rotates: the new key is published, and a token signed with it
    # is taken once the refetch interval (5 s) has passed.
    eu.write_jwks(tmp_path / "jwks.json", [keys, new])
    time.sleep(5.5)
    assert ask(srv.port, new.token(eu.claims())).status == 200
    assert ask(srv.port, keys.token(eu.claims())).status == 200
    assert key_fetches(amock) == fetched + 1


def test_keys_that_cannot_be_fetched_are_a_502(spawn, amock, keys):
    s = serve(spawn, amock, "azure", env=login_env(
        amock, LLMFORK_AUTH_AUTHORITY_HOST="http://127.0.0.1:9"))
    r = ask(s.port, keys.token(eu.claims()))
    assert r.status == 502, r.body
    assert "signing keys could not be fetched" in r.json()["error"]


ACL = "(oids/any(g:search.in(g, '%s')) or groups/any(g:search.in(g, " \
      "'g-1111, g-2222')))" % eu.OID


def cited(r):
    return r.ndjson()[0]["context"]["data_points"]["citations"]


def test_access_control_filters_the_search(spawn, amock, keys):
    s = serve(spawn, amock, "azure", conf="max_retries = 0\n",
              env=login_env(amock, AZURE_ENFORCE_ACCESS_CONTROL="true"))
    assert get(s.port, "/auth_setup").json()["requireAccessControl"] is True
    r = ask(s.port, keys.token(eu.claims()))
    assert r.status == 200, r.body
    assert searches(amock)[-1]["filter"] == ACL
    assert sorted(cited(r)) == ["mine.pdf", "team.pdf"]
    # Another user sees only what names them.
    r = ask(s.port, keys.token(eu.claims(oid="someone-else", groups=[])))
    assert cited(r) == ["secret.pdf"]
    # No groups claim: the groups clause matches nothing.
    r = ask(s.port, keys.token(eu.claims(groups=None)))
    assert cited(r) == ["mine.pdf"]
    assert "groups/any(g:search.in(g, ''))" in searches(amock)[-1]["filter"]


def test_access_control_joins_the_configured_filter(spawn, amock, keys):
    s = serve(spawn, amock, "azure",
              conf="max_retries = 0\nsearch_filter = id ne '2'\n",
              env=login_env(amock, AZURE_ENFORCE_ACCESS_CONTROL="true"))
    r = ask(s.port, keys.token(eu.claims()))
    assert r.status == 200, r.body
    assert searches(amock)[-1]["filter"] == "id ne '2' and " + ACL
    assert cited(r) == ["mine.pdf"]
    thoughts = r.ndjson()[0]["context"]["thoughts"]
    search = [t for t in thoughts if t["title"].startswith("Search using")][0]
    assert search["props"]["filter"] == "id ne '2' and " + ACL


def test_overrides_ask_for_either_filter_without_enforcement(srv, amock, keys):
    token = keys.token(eu.claims())
    r = ask(srv.port, token)
    assert "filter" not in searches(amock)[-1]
    assert len(cited(r)) == 3
    r = ask(srv.port, token,
            context={"overrides": {"use_oid_security_filter": True}})
    assert searches(amock)[-1]["filter"] == \
        "oids/any(g:search.in(g, '%s'))" % eu.OID
    assert cited(r) == ["mine.pdf"]
    r = ask(srv.port, token,
            context={"overrides": {"use_groups_security_filter": True}})
    assert searches(amock)[-1]["filter"] == \
        "groups/any(g:search.in(g, 'g-1111, g-2222'))"
    assert cited(r) == ["team.pdf"]


def test_login_settings_half_there_stop_the_boot(spawn, amock):
    s = serve(spawn, amock, "azure", wait=False,
              env=login_env(amock, AZURE_SERVER_APP_ID=None))
    assert s.wait_exit(15) == 3, s.log
    assert "use_authentication needs server_app_id" in s.log
