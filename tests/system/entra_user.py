"""Users' Entra ID access tokens for the login tests, made the way Entra
makes them: RS256 JWTs signed with an RSA key this module generates (the
openssl CLI), and the tenant's JSON Web Key Set the mock serves
(tests/mock/jwks.c, --jwks FILE).

    k = SigningKey(tmp_path, "kid-1")
    write_jwks(path, [k])
    token = k.token(claims(aud=SERVER_APP))
"""
import base64
import json
import os
import re
import subprocess
import time

TENANT = "11111111-2222-3333-4444-555555555555"
SERVER_APP = "aaaaaaaa-0000-0000-0000-000000000001"
CLIENT_APP = "cccccccc-0000-0000-0000-000000000002"
OID = "0f0f0f0f-1111-2222-3333-444444444444"
ISS_V2 = "https://login.microsoftonline.com/%s/v2.0" % TENANT
ISS_V1 = "https://sts.windows.net/%s/" % TENANT


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True, timeout=30).stdout


class SigningKey:
    def __init__(self, tmp_path, kid):
        self.kid = kid
        self.path = str(tmp_path / ("%s.pem" % kid))
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                 "rsa_keygen_bits:2048", "-out", self.path)
        text = _openssl("rsa", "-in", self.path, "-noout", "-text").decode()
        mod = re.search(r"modulus:\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
        n = bytes.fromhex(re.sub(r"[\s:]", "", mod))
        self.n = n[1:] if n[0] == 0 else n
        self.e = int(re.search(r"publicExponent: (\d+)", text).group(1))

    def jwk(self):
        e = self.e.to_bytes((self.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "use": "sig", "kid": self.kid,
                "x5t": self.kid, "n": b64url(self.n), "e": b64url(e),
                "x5c": ["MIIDBTCCAe2gAwIBAgIQ"], "issuer": ISS_V2}

    def sign(self, data):
        return _openssl("dgst", "-sha256", "-sign", self.path, data=data)

    def token(self, payload, kid=None, alg="RS256"):
        header = {"typ": "JWT", "alg": alg, "kid": kid or self.kid,
                  "x5t": kid or self.kid}
        head = (b64url(json.dumps(header).encode()) + "." +
                b64url(json.dumps(payload).encode()))
        return head + "." + b64url(self.sign(head.encode()))


def write_jwks(path, keys):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"keys": [k.jwk() for k in keys]}, f)
    os.replace(tmp, str(path))


def claims(**over):
    """An access token's claims as Entra issues them for the server app
    (requestedAccessTokenVersion 2)."""
    now = int(time.time())
    c = {"aud": SERVER_APP, "iss": ISS_V2, "iat": now - 10, "nbf": now - 10,
         "exp": now + 3600, "aio": "E2ZgY", "azp": CLIENT_APP, "azpacr": "0",
         "name": "Test User", "oid": OID, "preferred_username": "u@example.com",
         "rh": "0.AAAA", "scp": "access_as_user",
         "sub": "pS0Fs2bSZr2M", "tid": TENANT, "uti": "x", "ver": "2.0",
         "groups": ["g-1111", "g-2222"]}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}
