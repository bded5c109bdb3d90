"""GET /content/<path>: the files the azure-search-openai-demo's answers
cite, as its content_file route serves them: the path URL-decoded, the
"#page=N" part dropped, the file with its content type; from content_dir
(nothing outside it), or streamed from a blob container (the mock's Blob
Storage, tests/mock/blob.c) with an Entra ID token or the account key,
Range passed on, 404 for a missing blob.
"""
import base64
import os
import socket

import pytest

from upstream import Mock, get, open_request, read_reply, serve

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key.
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"
               "/K1SZFPTOtr/KBHBeksoGMGw==")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    (d / "Benefit_Options.pdf").write_bytes(PDF)
    (d / "notes.txt").write_text("plain notes\n")
    (d / "my doc.md").write_text("# spaced\n")
    (d / "sub").mkdir()
    (d / "sub" / "inner.json").write_text('{"a": 1}')
    (d / ".hidden").write_text("no")
    (tmp_path / "outside.txt").write_text("secret outside")
    os.symlink(tmp_path / "outside.txt", d / "link.txt")
    return d


def test_content_from_a_folder(spawn, files):
    s = serve(spawn, None, "mock", env={"LLMFORK_CONTENT_DIR": str(files)})
    r = get(s.port, "/content/Benefit_Options.pdf")
    assert r.status == 200 and r.body == PDF
    assert r.headers["content-type"] == "application/pdf"
    # The citation's page part, as the page sends it (encoded '#').
    r = get(s.port, "/content/Benefit_Options.pdf%23page=2")
    assert r.status == 200 and r.body == PDF
    r = get(s.port, "/content/notes.txt")
    assert r.headers["content-type"].startswith("text/plain")
    assert r.body == b"plain notes\n"
    assert get(s.port, "/content/my%20doc.md").body == b"# spaced\n"
    assert get(s.port, "/content/sub/inner.json").headers["content-type"] == \
        "application/json"
    # Conditional GET, as the static files.
    etag = get(s.port, "/content/notes.txt").headers["etag"]
    assert get(s.port, "/content/notes.txt",
               {"If-None-Match": etag}).status == 304


@pytest.mark.parametrize("path", [
    "/content/../outside.txt", "/content/%2e%2e/outside.txt",
    "/content/sub/%2E%2E/%2E%2E/outside.txt", "/content/sub%2f..%2f..%2foutside.txt",
    "/content/link.txt", "/content/.hidden", "/content/missing.pdf",
    "/content/", "/content/sub/", "/content/nul%00.txt",
])
def test_content_folder_refuses_ways_out(spawn, files, path):
    s = serve(spawn, None, "mock", env={"LLMFORK_CONTENT_DIR": str(files)})
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        r = read_reply(c)
    assert r.status in (400, 404), (path, r.status)
    assert b"secret outside" not in r.body


def test_no_content_source_no_route(spawn):
    s = serve(spawn, None, "mock")
    assert get(s.port, "/content/a.pdf").status == 404


# ---- blobs ---------------------------------------------------------------

@pytest.fixture
def bmock(tmp_path, files):
    root = tmp_path / "blobs"
    (root / "content").mkdir(parents=True)
    for name in ("Benefit_Options.pdf", "notes.txt", "my doc.md"):
        (root / "content" / name).write_bytes((files / name).read_bytes())
    m = Mock(tmp_path, "--blobs", "%s:%s:%s" % (ACCOUNT, root, ACCOUNT_KEY),
             "--token", "ttl=3600", name="bmock")
    yield m
    rc = m.stop()
    assert "Sanitizer" not in m.log and "runtime error" not in m.log, m.log
    assert rc == 0, m.log


def blob_env(mock, **extra):
    env = {"AZURE_STORAGE_ACCOUNT": ACCOUNT, "AZURE_STORAGE_CONTAINER": "content",
           "LLMFORK_STORAGE_ENDPOINT": "%s/%s" % (mock.url, ACCOUNT),
           "AZURE_STORAGE_KEY": ACCOUNT_KEY}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def token_env(mock):
    return blob_env(mock, AZURE_STORAGE_KEY=None, AZURE_TENANT_ID="t-1",
                    AZURE_CLIENT_ID="c-1", AZURE_CLIENT_SECRET="s",
                    AZURE_AUTHORITY_HOST=mock.url)


def blob_requests(mock):
    return [r for r in mock.requests() if r["path"].startswith("/" + ACCOUNT)]


@pytest.mark.parametrize("auth", ["key", "token"])
def test_content_from_blobs(spawn, bmock, auth):
    env = blob_env(bmock) if auth == "key" else token_env(bmock)
    s = serve(spawn, None, "mock", env=env)
    r = get(s.port, "/content/Benefit_Options.pdf%23page=3")
    assert r.status == 200, r.body
    assert r.body == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["accept-ranges"] == "bytes"
    # A blob stored as octet-stream gets the type of its name.
    r = get(s.port, "/content/my%20doc.md")
    assert r.status == 200 and r.body == b"# spaced\n"
    assert r.headers["content-type"].startswith("text/markdown")
    seen = blob_requests(bmock)
    assert [x["path"] for x in seen] == [
        "/%s/content/Benefit_Options.pdf" % ACCOUNT,
        "/%s/content/my%%20doc.md" % ACCOUNT]
    h = seen[0]["headers"]
    assert h["x-ms-version"] and h["x-ms-date"]
    if auth == "key":
        assert h["authorization"].startswith("SharedKey %s:" % ACCOUNT)
    else:
        assert h["authorization"].startswith("Bearer ")
        issued = bmock.get("/_mock/tokens")["issued_for"]
        assert issued.get("https://storage.azure.com") == 1


def test_blob_ranges_are_passed_on(spawn, bmock):
    s = serve(spawn, None, "mock", env=blob_env(bmock))
    r = get(s.port, "/content/Benefit_Options.pdf", {"Range": "bytes=9-1032"})
    assert r.status == 206, r.body
    assert r.body == PDF[9:1033]
    assert r.headers["content-range"] == "bytes 9-1032/%d" % len(PDF)
    r = get(s.port, "/content/Benefit_Options.pdf", {"Range": "bytes=-7"})
    assert r.status == 206 and r.body == PDF[-7:]
    assert blob_requests(bmock)[-1]["headers"]["range"] == "bytes=-7"
    r = get(s.port, "/content/notes.txt", {"Range": "bytes=5000-"})
    assert r.status == 416


def test_missing_blob_is_404_and_bad_key_502(spawn, bmock):
    s = serve(spawn, None, "mock", env=blob_env(bmock))
    r = get(s.port, "/content/nope.pdf")
    assert r.status == 404 and r.json() == {"error": "not found"}
    bad = base64.b64encode(b"not the key").decode()
    s2 = serve(spawn, None, "mock", env=blob_env(bmock, AZURE_STORAGE_KEY=bad))
    r = get(s2.port, "/content/notes.txt")
    assert r.status == 502, r.body
    assert "blob storage" in r.json()["error"]
    s3 = serve(spawn, None, "mock", env=blob_env(
        bmock, AZURE_STORAGE_CONTAINER="other"))
    assert get(s3.port, "/content/notes.txt").status == 404


def test_a_client_that_leaves_cancels_the_download(spawn, bmock, tmp_path):
    big = tmp_path / "blobs" / "content" / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 24)
    s = serve(spawn, None, "mock", env=blob_env(bmock),
              conf="stream_buffer = 65536\n")
    with open_request(s.port, "GET", "/content/big.bin") as c:
        c.recv(4096)            # the head and a first piece, then leave
    # The worker is fine and serves the next one whole.
    r = get(s.port, "/content/notes.txt")
    assert r.status == 200 and r.body == b"plain notes\n"


def test_storage_settings_half_there_stop_the_boot(spawn, bmock):
    s = serve(spawn, None, "mock", wait=False,
              env=blob_env(bmock, AZURE_STORAGE_CONTAINER=None))
    assert s.wait_exit(15) == 3, s.log
    assert "AZURE_STORAGE_CONTAINER" in s.log
