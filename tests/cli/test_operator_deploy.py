"""The deployment examples stay runnable: the systemd unit passes ``systemd-analyze verify``
(where systemd is installed), and every ``iomtshare`` command in the unit, the Containerfile,
the compose file and docs/deployment.md is one the CLI accepts."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "iomtshare-node.service"
CONTAINERFILE = DEPLOY / "Containerfile"
COMPOSE = DEPLOY / "compose.yaml"
GUIDE = ROOT / "docs" / "deployment.md"
INSTALLED = "/opt/iomtshare/bin/iomtshare"


def assert_cli_accepts(args: list[str]) -> None:
    """The CLI knows this subcommand path and these options (``--help`` stops before running)."""
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, f"iomtshare {shlex.join(args)}: {result.output}"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_iomtshare_commands() -> None:
    service = _unit()["Service"]
    for key in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(service[key])
        assert argv[0] == INSTALLED
        assert_cli_accepts(argv[1:])
    assert service["KillSignal"] in ("SIGTERM", "SIGINT")  # the signals the node stops on
    assert "MemoryDenyWriteExecute" not in service  # mcl's JIT needs writable code pages


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (systemd's tools are not on this system)")
    # verify insists that ExecStart's program exists: point it at this environment's command.
    installed = Path(sys.executable).parent / "iomtshare"
    if not installed.exists():
        pytest.skip(f"no iomtshare command beside {sys.executable} to stand in for {INSTALLED}")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(installed)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings to systemd; here they are failures.
    complaints = [line for line in result.stderr.splitlines() if UNIT.name in line]
    assert complaints == []


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_the_containerfile_is_well_formed_and_runs_the_node() -> None:
    steps = _instructions(CONTAINERFILE.read_text())
    known = {"FROM", "RUN", "COPY", "ENV", "USER", "WORKDIR", "VOLUME", "EXPOSE", "ENTRYPOINT",
             "CMD", "ARG", "LABEL"}
    assert {keyword for keyword, _ in steps} <= known
    stages = [rest.split(" AS ")[1] for k, rest in steps if k == "FROM" and " AS " in rest]
    for keyword, rest in steps:
        if keyword == "COPY" and rest.startswith("--from="):
            assert rest.split()[0].removeprefix("--from=") in stages
    (entrypoint,) = [json.loads(rest) for k, rest in steps if k == "ENTRYPOINT"]
    (command,) = [json.loads(rest) for k, rest in steps if k == "CMD"]
    assert entrypoint == ["iomtshare"]
    assert_cli_accepts(command)
    assert ("USER", "iomtshare") in steps  # the node never runs as root


def test_the_compose_file_runs_the_node_from_the_containerfile() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML (the dev extra) reads the compose file")
    document = yaml.safe_load(COMPOSE.read_text())
    node = document["services"]["node"]
    context = (COMPOSE.parent / node["build"]["context"]).resolve()
    assert (context / node["build"]["dockerfile"]).resolve() == CONTAINERFILE
    assert_cli_accepts(node["command"])
    check = node["healthcheck"]["test"]
    assert check[:2] == ["CMD", "iomtshare"]
    assert_cli_accepts(check[2:])
    for volume in node["volumes"]:
        assert volume.split(":")[0] in document["volumes"]
    assert "127.0.0.1:26657:26657" in node["ports"]  # the API stays on the host's loopback


def _guide_commands() -> list[list[str]]:
    """Arguments of every ``iomtshare`` command in the guide's code blocks (also inside
    ``docker run ... iomtshare ARGS``)."""
    blocks = re.findall(r"```\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line)
            if ">" in words:
                words = words[: words.index(">")]
            # The command word, not the image tag (`-t iomtshare`) nor a user name at the end.
            starts = [
                i for i, word in enumerate(words[:-1])
                if word == "iomtshare" and (i == 0 or words[i - 1] not in ("-t", "--tag"))
            ]
            if starts:
                commands.append(words[starts[0] + 1:])
    return commands


def test_every_command_in_the_deployment_guide_exists() -> None:
    commands = _guide_commands()
    names = {" ".join(c[:2]) for c in commands}
    assert {"init --home", "genesis assemble", "genesis install", "keys show"} <= names
    for args in commands:
        assert_cli_accepts(args)
