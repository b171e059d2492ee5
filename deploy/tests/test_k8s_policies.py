"""deploy/k8s, what the manifests promise about trust and availability: the vault's master key
reaches secret-svc only, as a file; prod leaves secrets and databases to the operator while dev
generates them; model-svc's replicas share the model cache; autoscalers and disruption budgets
agree with the replica counts; NetworkPolicies let each service be reached by exactly its
callers. `make k8s-validate` runs this file with test_k8s.py."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
from k8s_support import (
    K8S,
    NAME,
    PROD_SECRETS,
    PROMETHEUS_PEER,
    TARGETS,
    Objects,
    by_generated_name,
    callers,
    container,
    environment,
    of_kind,
    workloads,
)

from bodhi_devstack.components import ALL, GATEWAY, SERVICES


@pytest.mark.parametrize("target", TARGETS)
def test_master_key_is_a_file_of_secret_svc_only(
    manifests: dict[str, Objects], target: str
) -> None:
    deployments = of_kind(manifests[target], "Deployment")
    for workload in workloads(manifests[target]):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        secret_volumes = [v for v in pod.get("volumes", []) if "secret" in v]
        env = container(workload).get("env", [])
        assert not any(v["name"] == "BODHI_MASTER_KEY" for v in env), name
        if name != "secret":
            assert not secret_volumes, f"{name} mounts a Secret"
    secret = deployments["secret"]
    env = environment(manifests[target], secret)
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


def test_prod_expects_its_secrets_and_databases_outside(manifests: dict[str, Objects]) -> None:
    objects = manifests["prod"]
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


def test_dev_generates_every_secret_it_needs(manifests: dict[str, Objects]) -> None:
    objects = manifests["dev"]
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
def test_model_svc_shares_the_hf_cache(manifests: dict[str, Objects], target: str) -> None:
    objects = manifests[target]
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
def test_autoscalers_and_disruption_budgets(manifests: dict[str, Objects], target: str) -> None:
    objects = manifests[target]
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
def test_network_policies(manifests: dict[str, Objects], target: str) -> None:
    objects = manifests[target]
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


def test_dev_datastores_only_from_their_clients(manifests: dict[str, Objects]) -> None:
    objects = manifests["dev"]
    postgres = of_kind(objects, "StatefulSet")["postgres"]["spec"]["template"]["metadata"]
    redis = of_kind(objects, "Deployment")["redis"]["spec"]["template"]["metadata"]
    database_users = sorted(c.name for c in SERVICES if c.database)
    assert sorted(reachable_from(objects, postgres["labels"], 5432), key=str) == sorted(
        (caller_peer(n) for n in database_users), key=str
    )
    assert reachable_from(objects, redis["labels"], 6379) == [caller_peer("gateway")]
