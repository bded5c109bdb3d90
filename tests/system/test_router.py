"""The router: exact routes beat the static files' catch-all."""
import util


def test_wrong_method_on_app_route_is_405_not_static_404(spawn):
    srv = spawn(test_build=False)
    for path, allow in (("/chat", "POST"), ("/chat/stream", "POST"),
                        ("/v1/chat/completions", "POST")):
        r = util.get(srv.url + path)
        assert r.status_code == 405, (path, r.status_code, r.text)
        assert r.headers["Allow"] == allow
        assert r.json()["error"]
        # Any other method: the same Allow, not the catch-all's GET too.
        for method in ("PUT", "DELETE", "OPTIONS"):
            r = util.raw_request(srv.port, b"%s %s HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 0\r\n\r\n" % (method.encode(), path.encode()))
            assert r.status == 405, (method, path, r.status)
            assert r.headers["allow"] == allow, (method, path, r.headers["allow"])
    # The catch-all still serves what is not an app route.
    assert util.get(srv.url + "/").status_code == 200
    assert util.get(srv.url + "/no/such/file.txt").status_code == 404
