"""deploy/: init.sql and the Kubernetes overlay are renders of the inventory and the postgresql role.

The committed files must equal a fresh render (so the Compose bundle, the Kubernetes bootstrap SQL
and the Ansible-served database cannot drift), and every rendered manifest must validate offline
against the Kubernetes schemas (kubernetes-validate). No live cluster runs here: the manifests are
checked against the API schemas only, never applied.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import REPO, run_logged, tail

DEPLOY = REPO / "deploy"
KUBERNETES_VERSION = "1.32.0"
# Custom resources whose schema kubernetes-validate does not ship; each is checked structurally below.
CRDS = {("postgresql.cnpg.io/v1", "Cluster"): "CloudNativePG's CRD schema is not in kubernetes-validate"}
RENDERED = ["compose/init.sql", "compose/init-ivfflat.sql", "kubernetes/base/init.sql",
            "kubernetes/overlays/colo"]


def render(out: Path, *extra: str) -> None:
    code, log = run_logged(["ansible-playbook", "playbooks/render_deploy.yml", "-i", "inventories/colo/",
                            "-e", f"render_deploy_dir={out}", *extra], f"render-deploy-{out.name}")
    assert code == 0, tail(log)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    render(out)
    return out


@pytest.fixture(scope="module")
def all_moved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The overlay once every GPU node is a Kubernetes node (replicas > 0), with the base beside it."""
    out = tmp_path_factory.mktemp("moved")
    shutil.copytree(DEPLOY / "kubernetes" / "base", out / "kubernetes" / "base")
    render(out, "-e", "colostack_kubernetes_node=true")
    return out


def test_committed_renders_equal_a_fresh_render(fresh: Path):
    for rel in RENDERED:
        committed, new = DEPLOY / rel, fresh / rel
        if committed.is_dir():
            cmp = filecmp.dircmp(committed, new)
            assert not (cmp.left_only or cmp.right_only or cmp.diff_files), (
                f"deploy/{rel} differs from a fresh render {cmp.left_only, cmp.right_only, cmp.diff_files}; "
                "run ansible-playbook playbooks/render_deploy.yml -i inventories/colo/")
        else:
            assert committed.read_text() == new.read_text(), (
                f"deploy/{rel} differs from a fresh render; run ansible-playbook playbooks/render_deploy.yml -i inventories/colo/")


def test_init_sql_has_the_roles_table_and_index_options(fresh: Path):
    hnsw = (fresh / "compose/init.sql").read_text()
    ivf = (fresh / "compose/init-ivfflat.sql").read_text()
    assert "CREATE TABLE IF NOT EXISTS public.document_embeddings" in hnsw
    assert "embedding vector(1536)" in hnsw
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')" in hnsw
    assert "USING ivfflat (embedding vector_cosine_ops) WITH (lists='100')" in ivf
    assert (fresh / "kubernetes/base/init.sql").read_text() == hnsw


def test_the_role_creates_the_table_from_the_same_column_list():
    tasks = yaml.safe_load((REPO / "roles/postgresql/tasks/schema.yml").read_text())
    table = next(t for t in tasks if "community.postgresql.postgresql_table" in t)
    assert table["community.postgresql.postgresql_table"]["columns"] == "{{ __postgresql_columns }}"


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for p in sorted(path.glob("*.yaml")) if path.is_dir() else [path]:
        yield from (d for d in yaml.safe_load_all(p.read_text()) if d and d["kind"] != "Kustomization")


def validate(doc: dict[str, Any]) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRDS:
        spec = doc["spec"]
        assert spec["bootstrap"]["initdb"]["postInitApplicationSQLRefs"]["configMapRefs"]
        assert spec["instances"] >= 1 and spec["storage"]["size"]
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("part", ["kubernetes/base", "kubernetes/overlays/colo"])
def test_every_committed_manifest_validates_against_the_kubernetes_schemas(part: str):
    docs = list(documents(DEPLOY / part))
    assert docs
    for doc in docs:
        validate(doc)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_each_model_gets_whole_gpus_its_product_probes_a_pdb_and_cost_labels(all_moved: Path):
    docs = list(documents(all_moved / "kubernetes/overlays/colo"))
    for doc in docs:
        validate(doc)
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    # hgx-h100-01 (8 GPUs) and pcie-h100-01 (2 GPUs), from gpu_validate_expected_gpus.
    shapes = {name: d["spec"]["template"]["spec"] for name, d in deployments.items()}
    gpus = {name: s["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] for name, s in shapes.items()}
    assert gpus == {"vllm-llama-3-1-70b-instruct-h100-80gb-hbm3": 8, "vllm-llama-3-1-70b-instruct-h100-pcie": 2}
    for name, spec in shapes.items():
        deployment = deployments[name]
        assert deployment["spec"]["replicas"] == 1
        container = spec["containers"][0]
        assert f"--tensor-parallel-size={gpus[name]}" in container["args"]
        assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus[name]
        term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        expr = term["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expr["key"] == "nvidia.com/gpu.product"
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health"
        key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
        assert key["valueFrom"]["secretKeyRef"]["name"] == "colostack-vllm-api-key"
        # The chargeback's service name for vLLM (cost_agent_labels['vllm.service'] in inventories/colo).
        assert deployment["metadata"]["labels"]["colostack.io/service"] == "chat-api"
        assert deployment["spec"]["template"]["metadata"]["labels"]["colostack.io/service"] == "chat-api"
    assert {p["metadata"]["name"] for p in by_kind(docs, "PodDisruptionBudget")} == set(deployments)
    assert {s["metadata"]["name"] for s in by_kind(docs, "Service")} == set(deployments)
    for policy in by_kind(docs, "NetworkPolicy"):
        peers = policy["spec"]["ingress"][0]["from"]
        assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "colostack-gateway"}}} in peers
        assert {"ipBlock": {"cidr": "10.20.0.31/32"}} in peers  # gw-01, the inventory's gateway
        assert len(peers) == 2


def test_committed_overlay_serves_nothing_until_a_node_is_moved():
    docs = list(documents(DEPLOY / "kubernetes/overlays/colo"))
    assert [d["spec"]["replicas"] for d in by_kind(docs, "Deployment")] == [0, 0]


def test_kubectl_kustomize_builds_a_valid_overlay(all_moved: Path):
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed: the overlay's files were validated one by one above")
    for overlay in (DEPLOY / "kubernetes/overlays/colo", all_moved / "kubernetes/overlays/colo"):
        proc = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
        for doc in docs:
            validate(doc)
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "colostack", doc["metadata"]["name"]
        assert len(by_kind(docs, "Deployment")) == 2
        assert by_kind(docs, "ConfigMap")[0]["data"]["init.sql"] == (DEPLOY / "compose/init.sql").read_text()


def test_gpu_operator_values_leave_driver_and_toolkit_to_colostack():
    values = yaml.safe_load((DEPLOY / "kubernetes/gpu-operator-values.yaml").read_text())
    assert values["driver"]["enabled"] is False
    assert values["toolkit"]["enabled"] is False
    assert values["gfd"]["enabled"] is True  # the nvidia.com/gpu.product label the Deployments select on
