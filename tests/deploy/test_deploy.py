"""The deployment files, checked as far as a machine without Docker or network allows: the Dockerfile's health check
and its weight-baking step (run here against the real modules), the compose file's services, nginx's own syntax
check of deploy/nginx.conf (when nginx is installed), the Hugging Face Spaces front matter against requirements.txt,
and the container's entrypoint script starting a real server that answers /_stcore/health."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip()]


def test_dockerfile_checks_health_and_starts_with_the_entrypoint():
    steps = dockerfile_instructions()
    health = [args for op, args in steps if op == "HEALTHCHECK"]
    assert len(health) == 1 and "/_stcore/health" in health[0]
    assert [args for op, args in steps if op == "ENTRYPOINT"] == ['["/app/deploy/entrypoint.sh"]']
    installs = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert any("--extra-index-url https://download.pytorch.org/whl/cpu" in a and "-r requirements.txt" in a
               for a in installs)  # CPU torch
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "MMA_WEIGHTS_CACHE=" in env and "HF_HUB_OFFLINE=1" in env


def test_dockerfile_bakes_every_real_offline_conversion():
    """The build's `python -c` step, run here: it converts (or finds converted) DINOv2 and both Whisper sizes."""
    bake = [args for op, args in dockerfile_instructions() if op == "RUN" and "python -c" in args]
    assert len(bake) == 1
    code = shlex.split(bake[0].split("&&")[0])[2]
    assert "dinov2_onnx.convert_folder()" in code and "whisper_ct2.convert_folder(size)" in code
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    folders = [Path(line) for line in out.stdout.split()]
    from core.models import roles

    offline = {r.offline.cache_name for r in roles.ROLE_TABLE if r.offline is not None}
    assert sorted(f.name for f in folders) == sorted(offline)  # every role with real offline weights, once
    for folder in folders:
        assert json.loads((folder / "converted.json").read_text())["sources"]


def test_dockerignore_keeps_the_local_environment_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "test-artifacts"} <= ignored
    assert not {".streamlit", "models", "assets", "app.py"} & ignored  # the image needs these


def test_compose_runs_two_replicas_behind_the_proxy():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    assert set(services) == {"app", "proxy"}
    app, proxy = services["app"], services["proxy"]
    assert app["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert app["deploy"]["replicas"] == 2
    assert "/_stcore/health" in " ".join(app["healthcheck"]["test"])
    assert proxy["depends_on"]["app"]["condition"] == "service_healthy"
    assert "./nginx.conf:/etc/mma/nginx.conf:ro" in proxy["volumes"]
    assert "server app:8501" in proxy["command"][-1] and "nginx -c" in proxy["command"][-1]
    assert "/_stcore/health" in " ".join(proxy["healthcheck"]["test"])


def test_nginx_config_is_sticky_and_upgrades_the_websocket():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"hash \$mma_sticky_key consistent;", conf)
    assert "server 127.0.0.1:8501" in conf and "server 127.0.0.1:8502" in conf
    stream = conf[conf.index("location /_stcore/stream"):]
    assert "proxy_set_header Upgrade $http_upgrade;" in stream
    assert "proxy_set_header Connection $connection_upgrade;" in stream


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
def test_nginx_accepts_the_plain_config(tmp_path):
    """nginx's own check of deploy/nginx.conf, every directive as written except the pid file and temporary folders,
    moved from /tmp into tmp_path: `nginx -t` creates them, and ones left in /tmp by another user fail the check."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert conf.count("/tmp/mma-nginx") == 6  # pid + five *_temp_path
    (tmp_path / "nginx.conf").write_text(conf.replace("/tmp/mma-nginx", f"{tmp_path}/nginx"))
    out = subprocess.run([NGINX, "-t", "-e", "stderr", "-c", str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr


def test_readme_front_matter_is_a_streamlit_space_on_the_pinned_version():
    yaml = pytest.importorskip("yaml")
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("---\n")
    meta = yaml.safe_load(readme.split("---\n", 2)[1])
    pin = re.search(r"^streamlit==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert meta["sdk"] == "streamlit" and meta["app_file"] == "app.py"
    assert str(meta["sdk_version"]) == pin


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_entrypoint_starts_the_app_and_answers_health():
    """The container's entrypoint on this machine (what `docker run` would start), bundled pack, no network."""
    port = _free_port()
    env = dict(os.environ, PORT=str(port), ADDRESS="127.0.0.1", PYTHON=sys.executable, MMA_PACK="bundled",
               HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([str(ROOT / "deploy" / "entrypoint.sh")], cwd="/", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body, deadline = None, time.time() + 180  # a bound, not a measurement: a busy machine starts slowly
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                with direct.open(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert body == "ok", f"no health answer within 180 s (exit code {proc.poll()})"
    finally:
        proc.terminate()  # the script exec'd streamlit: this stops the server itself
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert body == "ok", output.decode(errors="replace")[-3000:]
