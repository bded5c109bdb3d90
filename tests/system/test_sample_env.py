"""The Azure samples' own environment names (common/cfg_samples.c) reach
the model: the shipped binary, no LLMFORK_PROVIDER, only a sample's names,
and the mock upstream answers only the deployment and key it was told.
"""
from upstream import DEPLOYMENT, KEY, Mock, chat_body, post, say, serve


def chat(srv):
    r = post(srv.port, "/chat", chat_body(say("hi", tokens=3)))
    assert r.status == 200, (r.body, srv.log)
    return r.json()["message"]["content"]


def test_deepseek_python_names_pick_azure_and_the_deployment(spawn, tmp_path):
    m = Mock(tmp_path)
    try:
        srv = serve(spawn, None, provider=None, env={
            "AZURE_INFERENCE_ENDPOINT": m.url + "/",
            "AZURE_DEEPSEEK_DEPLOYMENT": DEPLOYMENT,
            "AZURE_OPENAI_API_KEY": KEY})
        assert chat(srv) == m.answer(3)
        assert m.stats()["requests"] == 1
    finally:
        assert m.stop() == 0, m.log


def test_chatgpt_deployment_alias_and_an_explicit_setting_wins(spawn, tmp_path):
    m = Mock(tmp_path)
    try:
        srv = serve(spawn, m, provider="azure", env={
            "AZURE_OPENAI_CHAT_DEPLOYMENT": None,
            "AZURE_OPENAI_CHATGPT_DEPLOYMENT": DEPLOYMENT,
            "OPENAI_HOST": "openai"})       # LLMFORK_PROVIDER=azure wins
        assert chat(srv) == m.answer(3)
    finally:
        assert m.stop() == 0, m.log
