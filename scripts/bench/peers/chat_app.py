"""The peer: the seed's stack doing what llmfork's /chat/stream and /chat do.

FastAPI on gunicorn with Uvicorn workers (gunicorn.conf.py beside this file),
calling an OpenAI-compatible upstream with httpx, as the Azure chat samples
do:

  POST /chat/stream -> application/x-ndjson: a head line
       {"delta":{"role":"assistant"},"context":{...},"session_state":null},
       then {"delta":{"content":"...","role":"assistant"}} per token
  POST /chat        -> {"message":{"role":"assistant","content":...},
                        "context":{...},"session_state":null}

Environment: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL (as llmfork's
provider "openai"). One httpx.AsyncClient per worker, with no connection
cap, so the pool never limits the peer below what its loop can do.
"""
import json
import os

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

BASE_URL = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
API_KEY = os.environ.get("OPENAI_API_KEY", "")
MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
SYSTEM = "You are a helpful assistant."
CONTEXT = {"provider": "openai", "model": MODEL}

app = FastAPI()
client: httpx.AsyncClient


@app.on_event("startup")
async def startup() -> None:
    global client
    client = httpx.AsyncClient(
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=None,
                            max_keepalive_connections=None),
    )


@app.on_event("shutdown")
async def shutdown() -> None:
    await client.aclose()


def upstream_body(body: dict, stream: bool) -> dict:
    messages = [{"role": "system", "content": SYSTEM}]
    messages += body.get("messages", [])
    return {"model": MODEL, "messages": messages, "stream": stream}


def dumps(obj) -> str:
    """One NDJSON line, compact like llmfork's."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@app.post("/chat/stream")
async def chat_stream(request: Request):
    body = await request.json()
    if not isinstance(body.get("messages"), list):
        return error(400, "messages must be a list")
    req = client.build_request("POST", "/chat/completions",
                               json=upstream_body(body, True))
    upstream = await client.send(req, stream=True)
    if upstream.status_code >= 400:
        await upstream.aread()
        await upstream.aclose()
        return error(upstream.status_code, "the model failed")

    async def lines():
        try:
            head = {"delta": {"role": "assistant"}, "context": CONTEXT,
                    "session_state": body.get("session_state")}
            yield dumps(head)
            async for line in upstream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                choices = chunk.get("choices") or [{}]
                content = (choices[0].get("delta") or {}).get("content")
                if content:
                    yield dumps({"delta": {"content": content,
                                           "role": "assistant"}})
        finally:
            await upstream.aclose()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.post("/chat")
async def chat(request: Request):
    body = await request.json()
    if not isinstance(body.get("messages"), list):
        return error(400, "messages must be a list")
    upstream = await client.post("/chat/completions",
                                 json=upstream_body(body, False))
    if upstream.status_code >= 400:
        return error(upstream.status_code, "the model failed")
    content = upstream.json()["choices"][0]["message"]["content"]
    return {"context": CONTEXT, "session_state": body.get("session_state"),
            "message": {"role": "assistant", "content": content}}
