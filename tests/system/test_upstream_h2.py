"""HTTP/2 to the upstream, against a real HTTP/2 server: Debian's nginx
terminating TLS with `http2` and proxying to the mock. With `http2 = true`
the streams' requests reach nginx as HTTP/2.0 and share one connection
(curl multiplexes them); with `http2 = false` they are HTTP/1.1."""
import os
import subprocess
import threading

import pytest

import util
from test_ops_nginx import NGINX, Nginx
from upstream import chat_body, make_cert, mock, post, say, serve  # noqa: F401
from util import SLOW

STREAMS = 4


class H2Front:
    """nginx on a free port: TLS + HTTP/2 in front of the mock, logging
    each request's protocol and connection number."""

    def __init__(self, tmp_path, mock):
        if not os.path.exists(NGINX):
            pytest.skip("nginx is not installed")
        p = tmp_path / "h2front"
        (p / "logs").mkdir(parents=True)
        self.cert, key = make_cert(tmp_path, "h2")
        self.port = util.free_port()
        self.log = p / "logs" / "access.log"
        (p / "nginx.conf").write_text("""
daemon off;
master_process off;
pid %(p)s/nginx.pid;
error_log %(p)s/logs/error.log warn;
events { worker_connections 256; }
http {
    log_format proto '$request_uri $server_protocol $connection $status';
    access_log %(log)s proto;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    server {
        listen 127.0.0.1:%(port)d ssl http2;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        location / {
            proxy_pass %(mock)s;
            proxy_http_version 1.1;
            proxy_buffering off;
        }
    }
}
""" % {"p": p, "log": self.log, "port": self.port, "cert": self.cert, "key": key,
       "mock": mock.url})
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(p), "-c", str(p / "nginx.conf")], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        util.wait_for(lambda: not util.refused(self.port), 10 * SLOW, interval=0.05,
                      what="nginx listening")
        self.url = "https://127.0.0.1:%d" % self.port

    def requests(self):
        """(protocol, connection) of each chat completion nginx proxied."""
        if not self.log.exists():
            return []
        return [tuple(l.split()[1:3]) for l in self.log.read_text().splitlines()
                if l.startswith("/v1/chat/completions ") and l.split()[3] == "200"]

    stop = Nginx.stop       # SIGQUIT, then the process group's SIGKILL


@pytest.fixture
def h2front(tmp_path, mock):
    front = H2Front(tmp_path, mock)
    yield front
    front.stop()


def streams_at_once(port, n, tokens):
    """n /chat/stream requests in flight together; their replies."""
    replies = [None] * n

    def one(i):
        replies[i] = post(port, "/chat/stream",
                          chat_body(say("hi", tokens=tokens, delay_ms=50)))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30 * SLOW)
    return replies


@pytest.mark.parametrize("http2", [True, False])
def test_streams_over_http2_upstream(spawn, mock, h2front, http2):
    srv = serve(spawn, mock, "openai",
                conf="ca_file = %s\nhttp2 = %s\n" % (h2front.cert, "true" if http2 else "false"),
                env={"OPENAI_BASE_URL": h2front.url + "/v1"})
    for r in streams_at_once(srv.port, STREAMS, tokens=10):
        assert r is not None and r.status == 200 and r.complete, r and r.body
        assert "".join(l["delta"]["content"] for l in r.ndjson()[1:]) == mock.answer(10)
    seen = util.wait_for(lambda: len(h2front.requests()) >= STREAMS and h2front.requests(),
                         5 * SLOW, what="nginx's access log")
    protocols = {proto for proto, _ in seen}
    connections = {conn for _, conn in seen}
    if http2:
        assert protocols == {"HTTP/2.0"}, seen
        assert len(connections) == 1, seen     # multiplexed on one connection
    else:
        assert protocols == {"HTTP/1.1"}, seen
        assert len(connections) == STREAMS, seen
