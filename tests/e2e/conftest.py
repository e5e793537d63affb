"""A real gunicorn serving the hotline on a free port, with a real database and Redis."""

from __future__ import annotations

import pytest

from conftest import AUTH_TOKEN, redis_test_url, test_env
from hotline.devserver import free_port, gunicorn_server


@pytest.fixture
def server_env(tmp_path, redis_client):
    port = free_port()
    env = test_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
        REDIS_URL=redis_test_url(),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    return port, env


@pytest.fixture
def server(server_env, tmp_path):
    """(base_url, env, log_path) of a running gunicorn; its log is kept for the privacy scan."""
    port, env = server_env
    log_path = tmp_path / "gunicorn.log"
    with gunicorn_server(env, port, workers=2, log_path=log_path):
        yield f"http://127.0.0.1:{port}", env, log_path


@pytest.fixture
def auth_token() -> str:
    return AUTH_TOKEN
