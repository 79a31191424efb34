"""The ``hub`` pytest fixture: a fresh loopback Hub (tests/hub_server.py) per test, with the
real ``huggingface_hub`` and ``datasets`` clients pointed at it.

Use it by naming it::

    def test_publish(hub):
        api = HfApi()                      # endpoint, token and caches already point at `hub`
        api.create_repo("me/ds", repo_type="dataset")
        ...
        assert hub.count("POST", r"/commit/") == 1

It yields the ``HubServer`` itself: ``hub.url``, ``hub.requests`` / ``hub.count()`` /
``hub.calls()``, ``hub.inject_fault()``, ``hub.on_request()``, ``hub.commit()`` and the
inspection helpers (see hub_server.py). ``hub.blocked_hosts`` lists any host the clients
tried to resolve other than the loopback one; the fixture fails the test if there is any.

Why so much patching: both clients read ``HF_ENDPOINT``, the offline flags, the cache
paths and ``HF_HUB_DISABLE_XET`` once, when they are imported (and tests/conftest.py sets
the offline flags to 1 for the rest of the suite). The server's port is only known once it
has started, so the fixture sets the environment for anything that reads it later and
patches the already-imported module constants, all through ``monkeypatch`` so the next
test sees the originals again.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from hub_server import HubServer

DUMMY_TOKEN = "hf_loopbacktesttoken0000000000000000"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def hub(tmp_path_factory, monkeypatch):
    # Import before touching the environment: a first import here would compute the modules'
    # constants from this test's environment, and monkeypatch would then "restore" those
    # values (offline off, this test's caches) for every later test.
    import datasets.config
    import huggingface_hub.constants as hf_constants
    import huggingface_hub.hf_api
    import huggingface_hub.utils._http as hf_http
    from huggingface_hub import HfFileSystem

    root = tmp_path_factory.mktemp("hub")
    home = root / "hf_home"
    server = HubServer(blob_dir=root / "server_blobs").start()
    url = server.url

    env = {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_DATASETS_CACHE": str(home / "datasets"),
        "HF_MODULES_CACHE": str(home / "modules"),
        "HF_TOKEN": DUMMY_TOKEN,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Would override HF_TOKEN (OIDC exchange) or the endpoint (staging mode).
    for name in ("HF_OIDC_RESOURCE", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_CO_STAGING", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)

    host = urlsplit(url).hostname
    for name, value in {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": hf_constants.HF_URL_HOSTS | {host},
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(home / ".check_for_update_done"),
    }.items():
        monkeypatch.setattr(hf_constants, name, value)
    # Redirects and auth forwarding are allowed to the origins of the import-time ENDPOINT.
    monkeypatch.setattr(hf_http, "_HUB_ORIGINS", hf_http._HUB_ORIGINS | {hf_http._url_origin(url)})
    # `huggingface_hub.create_repo(...)` and the other module-level functions are bound to an
    # HfApi built at import time with the import-time endpoint (https://huggingface.co).
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", url)

    for name, value in {
        "HF_ENDPOINT": url,
        "HUB_DATASETS_URL": url + "/datasets/{repo_id}/resolve/{revision}/{path}",
        "HF_HUB_OFFLINE": False,
        "HF_DATASETS_OFFLINE": False,
        "HF_CACHE_HOME": str(home),
        "HF_DATASETS_CACHE": home / "datasets",
        "HF_MODULES_CACHE": home / "modules",
        "DOWNLOADED_DATASETS_PATH": home / "datasets" / "downloads",
        "EXTRACTED_DATASETS_PATH": home / "datasets" / "downloads" / "extracted",
        # Download counting is a HEAD to s3.amazonaws.com.
        "HF_UPDATE_DOWNLOAD_COUNTS": False,
        # With revision None/"main", datasets asks the dataset viewer, a separate service at
        # "datasets-server.<endpoint host>"; the loopback Hub has none, and the lookup of that
        # name would leave the machine.
        "USE_PARQUET_EXPORT": False,
    }.items():
        monkeypatch.setattr(datasets.config, name, value)

    # Any host but loopback fails to resolve, so a call that escaped the patching fails loudly
    # (and is listed) instead of reaching the real Hub.
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in _LOOPBACK:
            server.blocked_hosts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"blocked by the hub fixture: {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)

    # Both are process-wide caches keyed by nothing test-specific: a pooled keep-alive connection
    # or an HfFileSystem (with its listings cache) from an earlier test's server must not be reused.
    hf_http.close_session()
    HfFileSystem.clear_instance_cache()
    try:
        yield server
    finally:
        hf_http.close_session()
        HfFileSystem.clear_instance_cache()
        server.stop()
    assert not server.errors, "the test Hub failed:\n" + "\n".join(server.errors)
    assert not server.blocked_hosts, f"the clients tried to reach {sorted(set(server.blocked_hosts))}"
