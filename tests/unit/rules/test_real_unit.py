"""The rule pack against messages real software produces here: openssl s_client, curl,
Python's ssl and Java against an openssl s_server whose certificate is not yet valid
or expired (signed under faketime); PyJWT decoding tokens from a clock ten minutes
off; pyotp showing the TOTP window; chronyd -Q under faketime against a chronyd
server. (krb5kdc and kinit: tests/test_kerberos_real.py.)"""

from __future__ import annotations

import time

import pytest

from support.rules_real import PACK, signatures  # noqa: F401


def test_pyjwt_immature_and_expired_signatures():
    import jwt

    key = "k" * 32
    now = time.time()
    for claims, kind in (({"nbf": now + 600}, "ImmatureSignatureError"), ({"iat": now + 600}, "ImmatureSignatureError"),
                         ({"exp": now - 600}, "ExpiredSignatureError")):
        token = jwt.encode(claims, key, algorithm="HS256")
        with pytest.raises(jwt.PyJWTError) as caught:
            jwt.decode(token, key, algorithms=["HS256"])
        line = f"{type(caught.value).__module__}.{type(caught.value).__name__}: {caught.value}"
        assert kind in line and signatures(line) == {"JWT_LIFETIME_INVALID"}, line
    # within leeway it passes: the rule's 300 s is the usual leeway, not PyJWT's default of 0
    assert jwt.decode(jwt.encode({"nbf": now + 200}, key, algorithm="HS256"), key, algorithms=["HS256"], leeway=300)


def test_pyotp_window_is_the_totp_tolerance():
    import pyotp

    rule = next(r for r in PACK if r.protocol == "totp")
    totp = pyotp.TOTP(pyotp.random_base32())
    now = time.time()
    assert totp.interval == 30 == rule.tolerance_s
    assert totp.verify(totp.at(now - 30), for_time=now, valid_window=1)   # one step of drift passes
    assert not totp.verify(totp.at(now + 600), for_time=now, valid_window=1)   # a phone 10 min ahead fails
