"""docker-compose.yml, the Dockerfile and deployments/kubernetes/: they parse, validate
against their schemas, mount files that exist, hand the receiver a config `check-config`
accepts, and probe endpoints the running app answers."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from receiver.server.app import create_app
from tests.conftest import TOKEN, RedisServer, Serve, make_settings
from tests.deploy.tools import (
    COMPOSE_FILE,
    GRAFANA,
    KUBERNETES,
    MONITORING,
    ROOT,
    VENV_BIN,
    load_yaml,
    run,
    serve_config,
)
from tests.helpers import free_port

SERVICES = {"redis", "receiver", "prometheus", "alertmanager", "grafana", "mailpit"}
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data


def check_config(config: Path, *flags: str) -> None:
    res = run(VENV_BIN / "alert-receiver", "check-config", *flags, config)
    assert res.returncode == 0, f"{config}: {res.stdout}{res.stderr}"


def k8s_docs() -> dict[str, dict[str, Any]]:
    """Every resource the kustomization lists, by kind."""
    kustom = load_yaml(KUBERNETES / "kustomization.yaml")
    docs = {}
    for name in kustom["resources"]:
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text()):
            docs[doc["kind"]] = doc
    return docs


def k8s_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(k8s_docs()["ConfigMap"]["data"]["config.yml"])
    return path


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Serve]:
    """The app as the container runs it: `alert-receiver serve` on a real socket."""
    tmp = tmp_path_factory.mktemp("deploy-serve")
    if redis_server.proc is None:
        redis_server.start()
    config = {"auth": {"bearer_tokens": [TOKEN]},
              "redis": {"url": redis_server.url, "key_prefix": "deploytest"},
              "receivers": {"log": {"type": "log"}}, "route": {"receivers": ["log"]}}  # fmt: skip
    server = serve_config(tmp, config)
    yield server
    server.kill(signal.SIGTERM)


def app_paths() -> set[str]:
    """Every GET route the app defines."""
    app = create_app(make_settings("redis://127.0.0.1:1/0"), run_workers=False)
    return {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    }


# ------------------------------------------------------------------------------- compose


def test_compose_parses_and_has_every_service() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert services["receiver"]["build"] == "."
    # published on loopback only
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_compose_validates_against_the_compose_spec() -> None:
    res = run(VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec",
              COMPOSE_FILE)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    docker = shutil.which("docker")
    if docker and run(docker, "compose", "version").returncode == 0:
        res = run(docker, "compose", "-f", COMPOSE_FILE, "config", "--quiet")
        assert res.returncode == 0, res.stdout + res.stderr


def test_compose_schema_check_refuses_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  receiver:\n    image: x\n    ports: {oops: 1}\n    bogus_key: 1\n")
    res = run(VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", bad)
    assert res.returncode != 0


def _host_paths() -> list[tuple[str, Path]]:
    doc = compose()
    paths = []
    for name, svc in doc["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                paths.append((name, ROOT / src))
    for name, secret in doc["secrets"].items():
        paths.append((f"secret {name}", ROOT / secret["file"]))
    return paths


def test_every_mounted_host_file_exists() -> None:
    paths = _host_paths()
    assert len(paths) >= 7
    missing = [(who, str(p)) for who, p in paths if not p.exists()]
    assert missing == []
    assert (ROOT / "Dockerfile").is_file()  # build: .


def test_compose_receiver_config_passes_check_config(tmp_path: Path) -> None:
    """Offline (`--no-secrets`), then with the dev secret files where compose mounts them."""
    config = ROOT / "deployments" / "compose" / "receiver.yml"
    check_config(config, "--no-secrets")
    secrets = ROOT / "deployments" / "compose" / "secrets"
    local = tmp_path / "receiver.yml"
    local.write_text(config.read_text().replace("/run/secrets/", f"{secrets}/"))
    check_config(local)


def test_compose_wiring_matches_the_configs() -> None:
    """The names and ports the configs use are the services compose defines."""
    doc, receiver_cfg = compose(), load_yaml(ROOT / "deployments" / "compose" / "receiver.yml")
    services = doc["services"]
    # the receiver's config is mounted where the image's command reads it
    assert (
        "./deployments/compose/receiver.yml:/etc/alert-receiver/config.yml:ro"
        in (services["receiver"]["volumes"])
    )
    assert receiver_cfg["listen"].endswith(":9095")
    assert receiver_cfg["redis"]["url"].startswith("redis://redis:6379")
    assert receiver_cfg["receivers"]["mail"]["host"] == "mailpit"
    # the same token file on both ends of the webhook
    token = "/run/secrets/webhook-token"
    assert receiver_cfg["auth"]["bearer_token_files"] == [token]
    assert "webhook-token" in services["receiver"]["secrets"]
    assert "webhook-token" in services["alertmanager"]["secrets"]
    am = load_yaml(MONITORING / "alertmanager.yml")
    for r in am["receivers"]:
        for hook in r.get("webhook_configs", []):
            assert hook["http_config"]["authorization"]["credentials_file"] == token
    # Prometheus scrapes the receiver service and loads the rules from the mounted directory
    prom = load_yaml(MONITORING / "prometheus.yml")
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "alert-receiver")
    assert job["static_configs"][0]["targets"] == ["receiver:9095"]
    assert "./deployments/monitoring:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    # Grafana: the provider's path is where the dashboards are mounted
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "alert-receiver.yml")
    path = provider["providers"][0]["options"]["path"]
    assert f"./deployments/grafana/dashboards:{path}:ro" in services["grafana"]["volumes"]
    (ds,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert ds["url"] == "http://prometheus:9090"


# ---------------------------------------------------------------------------- Dockerfile


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def healthcheck_command() -> list[str]:
    m = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[[^\n]*\])$", dockerfile(), re.M)
    assert m, "no HEALTHCHECK ... CMD [...]"
    cmd: list[str] = yaml.safe_load(m.group(1))
    return cmd


def test_dockerfile_shape() -> None:
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert re.search(r"^EXPOSE 9095$", text, re.M)
    assert "pip install --require-hashes --no-deps -r /src/requirements.lock" in text
    cmd = yaml.safe_load(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[cmd.index("--config") + 1] == "/etc/alert-receiver/config.yml"


def test_dockerfile_healthcheck_runs_against_the_app(serve: Serve) -> None:
    """The HEALTHCHECK command itself, pointed at a running serve: exit 0; pointed at a
    port where nothing listens: non-zero."""
    cmd = healthcheck_command()
    assert cmd[0] == "python"
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", " ".join(cmd))
    assert urls == [("9095", "/health/live")]
    assert "/health/live" in app_paths()
    python = str(VENV_BIN / "python")
    live = [python, *(c.replace(":9095/", f":{serve.port}/") for c in cmd[1:])]
    res = run(*live, timeout=30)
    assert res.returncode == 0, res.stderr
    dead = [python, *(c.replace(":9095/", f":{free_port()}/") for c in cmd[1:])]
    assert run(*dead, timeout=30).returncode != 0


def test_dockerignore_keeps_state_and_secrets_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"  # everything excluded first …
    assert "!receiver/" in lines and "!pyproject.toml" in lines  # … then only the package
    assert "!requirements.lock" in lines  # … and the lock it installs


# ---------------------------------------------------------------------------- Kubernetes


def test_kustomization_lists_every_manifest() -> None:
    listed = set(load_yaml(KUBERNETES / "kustomization.yaml")["resources"])
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files
    assert set(k8s_docs()) == {"ConfigMap", "Secret", "Deployment", "Service",
                               "PodDisruptionBudget"}  # fmt: skip


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_validate_against_kubernetes_schemas(version: str) -> None:
    for kind, doc in k8s_docs().items():
        kubernetes_validate.validate(doc, version, strict=True)  # raises with the field path
        assert doc["metadata"]["name"] == "alert-receiver", kind


def test_k8s_schema_check_refuses_a_broken_manifest() -> None:
    doc = k8s_docs()["Deployment"]
    doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_k8s_deployment_shape() -> None:
    docs = k8s_docs()
    dep = docs["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # the config file the args name comes from the ConfigMap, the tokens from the Secret
    config_arg = container["args"][container["args"].index("--config") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_vol = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[config_vol]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert config_arg == f"{mounts[config_vol]}/config.yml"
    secret_vol = next(n for n, v in volumes.items() if "secret" in v)
    assert volumes[secret_vol]["secret"]["secretName"] == docs["Secret"]["metadata"]["name"]
    config_text = json.dumps(yaml.safe_load(docs["ConfigMap"]["data"]["config.yml"]))  # no comments
    used = set(re.findall(re.escape(mounts[secret_vol]) + r"/([\w.-]+)", config_text))
    assert used and used <= set(docs["Secret"]["stringData"])


def test_k8s_configmap_config_passes_check_config(tmp_path: Path) -> None:
    check_config(k8s_config(tmp_path), "--no-secrets")
    cfg = load_yaml(k8s_config(tmp_path))
    assert "url" in cfg["redis"] or "sentinels" in cfg["redis"]  # never embedded with 3 replicas


def readme_check_command() -> str:
    """The one `sh` block of deployments/kubernetes/README.md that runs check-config."""
    text = (KUBERNETES / "README.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, re.S | re.M)
    blocks = [b for b in blocks if "check-config" in b]
    assert len(blocks) == 1, blocks
    return str(blocks[0]).strip()


def test_k8s_readme_check_config_command_works_verbatim() -> None:
    """The README's command, run as written from the repository root, checks the
    ConfigMap's config and passes; check-config on the ConfigMap file itself (what the
    README warns against) fails on the wrapper's keys."""
    command = readme_check_command()
    res = run("sh", "-c", command)
    assert res.returncode == 0, f"{command}\n{res.stdout}{res.stderr}"
    assert "config OK (secrets not checked)" in res.stdout
    wrapped = run(VENV_BIN / "alert-receiver", "check-config", "--no-secrets",
                  KUBERNETES / "configmap.yaml")  # fmt: skip
    assert wrapped.returncode != 0 and "apiVersion: unknown key" in wrapped.stderr


def test_k8s_probes_point_at_endpoints_the_app_answers(serve: Serve, tmp_path: Path) -> None:
    docs = k8s_docs()
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listen_port = int(load_yaml(k8s_config(tmp_path))["listen"].rsplit(":", 1)[1])
    probes = {
        k: container[k]["httpGet"] for k in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    routes = app_paths()
    for name, probe in probes.items():
        assert ports[probe["port"]] == listen_port, name
        assert probe["path"] in routes, name
        resp = httpx.get(f"{serve.url}{probe['path']}", timeout=5)
        assert resp.status_code == 200, (name, resp.text)
    service_port = docs["Service"]["spec"]["ports"][0]
    assert ports[service_port["targetPort"]] == listen_port


def test_k8s_readme_covers_redis_for_production() -> None:
    text = (KUBERNETES / "README.md").read_text()
    for word in ("Sentinel", "sentinels", "master_name", "managed Redis", "redis.url"):
        assert word in text, word
    assert shlex.split("kubectl apply -k deployments/kubernetes")[2] == "-k"
