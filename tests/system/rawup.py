"""A raw upstream for fidelity tests: it answers every request with bytes
given verbatim (the framing Azure OpenAI and OpenAI really send: CRLF,
comments, events split at any byte, gzip, odd heads), so llmfork is tested
against what the services send, not against its own mock's habits.

    up = RawUpstream(head, [piece, piece, ...], pause=0.005)
    srv = serve(spawn, up, "azure")      # up.url, like the Mock's
    up.requests                          # [(head bytes, body bytes)]

Each piece is sent with its own send() and a short pause, so llmfork reads
them apart; a threading.Event among them holds the response there until
the test sets it; close=True closes the connection after the last piece.
"""
import gzip
import json
import socket
import threading
import time


def sse(obj):
    """One SSE event the way OpenAI writes it."""
    return b"data: " + (obj if isinstance(obj, bytes) else
                        json.dumps(obj, separators=(",", ":")).encode()) + b"\n\n"


def chunked(pieces):
    """Each piece as one HTTP/1.1 chunk, then the last chunk."""
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p] + [b"0\r\n\r\n"]


def head(status=200, reason="OK", ctype="text/event-stream; charset=utf-8",
         extra=(), length=None, te_chunked=True):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    if ctype:
        lines.append("Content-Type: " + ctype)
    if length is not None:
        lines.append("Content-Length: %d" % length)
    elif te_chunked:
        lines.append("Transfer-Encoding: chunked")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def whole(status, body, reason="X", ctype="application/json", extra=(),
          gz=False):
    """A response with a Content-Length body (gzipped when gz)."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    if gz:
        body = gzip.compress(body)
        extra = list(extra) + ["Content-Encoding: gzip"]
    return head(status, reason, ctype, extra, length=len(body)) + body


class RawUpstream:
    def __init__(self, response, pieces=(), pause=0.002, close=True):
        """response: the head (or a whole response); pieces: the body's
        pieces, sent one by one after the head."""
        self.response, self.pieces = response, list(pieces)
        self.pause, self.close = pause, close
        self.requests = []
        self.ls = socket.create_server(("127.0.0.1", 0))
        self.port = self.ls.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c):
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(65536)
            if not d:
                return False
            req += d
        hd, body = req.split(b"\r\n\r\n", 1)
        length = [int(l.split(b":")[1]) for l in hd.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")]
        while length and len(body) < length[0]:
            body += c.recv(65536)
        self.requests.append((hd, body))
        return True

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while self._read_request(c):
                c.sendall(self.response)
                for p in self.pieces:
                    if isinstance(p, threading.Event):
                        p.wait(60)      # held until the test sets it
                        continue
                    time.sleep(self.pause)
                    c.sendall(p)
                if self.close:
                    break
        except OSError:
            pass
        c.close()

    def stop(self):
        self.ls.close()
