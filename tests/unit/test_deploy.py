"""The deployment files say what the README says. The Docker build itself cannot run here (no
Docker, no network): these tests read the Dockerfile, the Streamlit config and the manifest."""
import json
import re
import shlex
import tomllib

import pytest
from tests import ROOT



def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def arguments(name: str) -> list[str]:
    return [rest for word, rest in instructions() if word == name]


def command() -> list[str]:
    """The container's command: CMD (exec form), after any ENTRYPOINT."""
    (cmd,) = arguments("CMD")
    entry = arguments("ENTRYPOINT")
    return (json.loads(entry[0]) if entry else []) + json.loads(cmd)


def test_base_image_and_system_packages():
    assert arguments("FROM") == ["python:3.11-slim"]
    runs = " ".join(arguments("RUN"))
    # no browser and no fonts on the server: every picture is drawn in the visitor's browser
    assert "chromium" not in runs and "apt-get" not in runs


def test_torch_stays_the_pinned_cpu_build():
    runs = " ".join(arguments("RUN"))
    assert "pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt" in runs
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
    # the extra index lives in the Dockerfile only: a local install takes PyPI's torch
    assert "download.pytorch.org" not in (ROOT / "requirements.txt").read_text()


def test_runs_the_readme_command_on_8501_in_hosted_mode():
    cmd = command()
    assert cmd[:3] == ["streamlit", "run", "app.py"]
    flags = dict(zip(cmd[3::2], cmd[4::2]))
    assert flags["--server.port"] == "8501" and flags["--server.address"] == "0.0.0.0"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    hosting = readme.split("## Hosting", 1)[1]
    assert shlex.join(cmd) in hosting, f"README's Hosting section should show: {shlex.join(cmd)}"
    assert "8501" in " ".join(arguments("EXPOSE")).split()
    env = " ".join(arguments("ENV"))
    assert re.search(r"\bATTENTION_EXPLORER_HOSTED=1\b", env)
    assert re.search(r"\bHF_HUB_OFFLINE=1\b", env)


def test_healthcheck_asks_streamlit_health_endpoint():
    (check,) = arguments("HEALTHCHECK")
    assert "http://localhost:8501/_stcore/health" in check and "CMD" in check


def test_models_ship_in_the_image():
    ignored = [line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert "assets" not in ignored and ".git" in ignored and "tests" in ignored
    copies = " ".join(arguments("COPY"))
    assert ". ." in copies                      # the code and assets/ (checkpoints included)
    for name in ("toy-seq2seq", "toy-gpt", "toy-bert"):
        assert (ROOT / "assets" / name / "final.safetensors").exists()


def test_streamlit_config_has_the_hosting_settings():
    text = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["server"]["fileWatcherType"] == "none"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["runner"]["postScriptGC"] is False
    assert "gc.collect" in text.split("[runner]", 1)[1]   # the measurement that justifies it stays


def test_kubernetes_example_is_sticky():
    yaml = pytest.importorskip("yaml")   # PyYAML comes with transformers
    docs = {d["kind"]: d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())}
    assert set(docs) == {"Deployment", "Service", "Ingress"}
    deployment = docs["Deployment"]["spec"]
    assert deployment["replicas"] >= 2
    container = deployment["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 8501
    assert {"name": "ATTENTION_EXPLORER_HOSTED", "value": "1"} in container["env"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert container["resources"]["limits"]["memory"]
    annotations = docs["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    backend = docs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == docs["Service"]["metadata"]["name"]


def test_readme_hosting_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Hosting" in readme
    hosting = readme.split("## Hosting", 1)[1]
    for needle in ("Streamlit Community Cloud", "Hugging Face Space", "docker build", "deploy/kubernetes.yaml",
                   "sticky", "ATTENTION_EXPLORER_HOSTED", "ATTENTION_EXPLORER_ALLOWLIST", "not run here"):
        assert needle in hosting, needle
