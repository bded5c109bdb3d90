"""The app interface (worker/app.h, worker/server/http.h) as an app developer
meets it: what the server does when an app breaks the response rules."""
import socket
import time

import util
from util import SLOW


def read_until_close(port, path, timeout=5 * SLOW):
    """GET path with Connection: close; every byte until the server closes."""
    with util.connect(port, timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % path.encode())
        data, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    return data


def test_app_that_answers_twice_or_writes_after_the_end_is_logged_not_a_crash(spawn):
    srv = spawn(workers=1)
    [pid] = srv.workers()
    # Another client on the same worker, streaming through it all.
    other = util.StreamThread(srv.port, 20, 50 * SLOW)
    other.start()
    assert other.first.wait(5 * SLOW)

    whole = read_until_close(srv.port, "/_test/misuse?do=twice")
    assert whole.startswith(b"HTTP/1.1 200 ") and whole.endswith(b"\r\n\r\none\n"), whole
    assert b"two" not in whole and b"three" not in whole, whole
    for case in ("write_after_end", "end_twice", "start_twice"):
        data = read_until_close(srv.port, "/_test/misuse?do=" + case)
        assert data.startswith(b"HTTP/1.1 200 "), (case, data)
        assert data.endswith(b"\r\n\r\n4\r\none\n\r\n0\r\n\r\n"), (case, data)
        assert data.count(b"HTTP/1.1") == 1, (case, data)
    # A whole response after the stream started: the stream is cut off
    # (no last chunk), not followed by a second head.
    cut = read_until_close(srv.port, "/_test/misuse?do=send_after_start")
    assert cut.startswith(b"HTTP/1.1 200 ") and cut.endswith(b"4\r\none\n\r\n"), cut
    early = read_until_close(srv.port, "/_test/misuse?do=write_before_start")
    assert early.endswith(b"\r\n\r\none\n"), early

    other.join(10 * SLOW)
    assert util.stream_lines_ok(other.lines, 20), other.lines
    assert srv.workers() == [pid], srv.log       # no worker died
    log = srv.log
    for line in (
            "GET /_test/misuse: http_resp_send after the response ended (ignored)",
            "GET /_test/misuse: http_resp_error after the response ended (ignored)",
            "GET /_test/misuse: http_resp_write after the response ended (ignored)",
            "GET /_test/misuse: http_resp_end after the response ended (ignored)",
            "GET /_test/misuse: http_resp_start called twice (ignored)",
            "GET /_test/misuse: http_resp_send after http_resp_start: stream cut off",
            "GET /_test/misuse: http_resp_write before http_resp_start (ignored)"):
        assert line in log, (line, log)
    assert "SIG" not in log, log
