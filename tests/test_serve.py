"""`okno serve --workers 2`: every worker signs with the key the parent read, handed over as part
of the settings object, never written into the environment.

Real processes on a real port: the server is started as `okno serve` is, on a temporary SQLite
file, and asked over HTTP.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest

from api.auth import ALGORITHM, ISSUER
from api.serve import worker_settings
from engine.accounts import add_user
from engine.settings import Settings
from engine.store.connect import connect
from tests.db_support import url as db_url
from tests.serving import children, free_port, stop, wait_until_up

PASSWORD = "correct horse battery staple"
ROUNDS = 16  # fresh connections: SO_REUSEPORT spreads them over both workers


def _sign_in(base: str) -> str:
    with httpx.Client(base_url=base, timeout=10) as client:  # a connection of its own
        r = client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _me(base: str, token: str) -> int:
    with httpx.Client(base_url=base, timeout=10) as client:
        return client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; SO_REUSEPORT")


# One class per balancer: pytest-xdist (--dist loadscope) runs the two slow servers on two workers.
@LINUX_ONLY
class TestReuseport:
    def test_workers_sign_with_the_parents_key_without_the_environment(self, tmp_path) -> None:
        _workers_sign_with_the_parents_key(tmp_path, "reuseport")


@LINUX_ONLY
class TestGunicorn:
    def test_workers_sign_with_the_parents_key_without_the_environment(self, tmp_path) -> None:
        _workers_sign_with_the_parents_key(tmp_path, "gunicorn")


def _workers_sign_with_the_parents_key(tmp_path: Path, balancer: str) -> None:
    url = db_url(tmp_path / 'okno.db')
    add_user(connect(url), "clerk", PASSWORD, "clerk", "minsk-sovetsky")
    secret_file = tmp_path / "secret.key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    env["OKNO_SECRET_FILE"] = str(secret_file)  # no OKNO_SECRET_KEY: the parent creates one
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port",
             str(port), "--workers", "2", "--balancer", balancer, "--database", url],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(base, server, log)
        key = secret_file.read_text(encoding="ascii").strip()
        tokens = [_sign_in(base) for _ in range(ROUNDS)]
        for token in tokens:  # signed by the parent's key, whichever worker signed it
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER)
            assert claims["sub"] == "clerk"
        # each token is checked on other connections, so by the other worker too
        assert [_me(base, token) for token in reversed(tokens)] == [200] * ROUNDS
        if balancer == "reuseport":
            # spawned workers start with the environment the parent had when it started them:
            # had it written the key (or the database URL) into os.environ, they would show it
            workers = [pid for pid in children(server.pid)
                       if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert len(workers) == 2
            for pid in workers:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                names = {item.split(b"=", 1)[0] for item in environ}
                assert b"OKNO_SECRET_KEY" not in names and b"OKNO_DATABASE_URL" not in names
                assert key.encode() not in b"\0".join(environ)
    finally:
        stop(server)


def test_worker_settings_carry_the_key_and_leave_the_environment_alone(tmp_path,
                                                                       monkeypatch) -> None:
    monkeypatch.delenv("OKNO_SECRET_KEY", raising=False)
    before = dict(os.environ)
    settings = Settings(secret_file=tmp_path / "secret.key")
    passed = worker_settings(settings)
    key = (tmp_path / "secret.key").read_text(encoding="ascii").strip()
    assert passed.secret_key is not None and passed.secret_key.get_secret_value() == key
    assert passed.model_dump(exclude={"secret_key"}) == settings.model_dump(exclude={"secret_key"})
    assert dict(os.environ) == before
    explicit = Settings(secret_key="from-the-operator-" + "x" * 30)
    assert worker_settings(explicit) == explicit
