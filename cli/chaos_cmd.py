"""``iomtshare testnet chaos``: real node processes under seeded faults and request load,
checked after healing (:mod:`testnet.chaos`)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import click


@click.command("chaos")
@click.option("--seed", type=int, default=None,
              help="Seed of the fault schedule (replayable). Required unless --cleanup.")
@click.option("--duration", type=click.FloatRange(10, 86_400), default=None,
              help="Seconds of faults under load (the heal, checks and setup come on top). "
              "Required unless --cleanup.")
@click.option("--faults", default="all", show_default=True,
              help="Comma-separated kinds: kill, stop, term, skew, partition, split, one-way, "
              "flap, loss, latency, disk; or all (those this machine allows).")
@click.option("--nodes", "n", type=click.IntRange(3, 16), default=4, show_default=True)
@click.option("--requesters", type=click.IntRange(1, 32), default=3, show_default=True)
@click.option("--rate", type=click.FloatRange(0.05, 50), default=1.0, show_default=True,
              help="Requests per second per requester.")
@click.option("--network", type=click.Choice(["auto", "netns", "loopback"]), default="auto",
              show_default=True,
              help="netns: a namespace per node (needs root, ip and nft); loopback: latency "
              "is the only network fault; auto: netns where allowed, else loopback with a "
              "message.")
@click.option("--clock-skew-ms", type=click.IntRange(0, 20_000), default=2_000,
              show_default=True, help="Each node's clock is off by a seeded amount up to this.")
@click.option("--liveness-bound", type=click.FloatRange(1, 3600), default=60.0,
              show_default=True, help="Seconds after the heal within which a request must be "
              "decided.")
@click.option("--round-timeout-ms", type=click.IntRange(100, 60_000), default=1_000,
              show_default=True, help="The network's consensus round timeout (a node's genesis "
              "default is 3000; short runs use less to fail over fast).")
@click.option("--hold", default="3-8", show_default=True,
              help="Seconds each fault is held: MIN-MAX, drawn per fault.")
@click.option("--gap", default="4-8", show_default=True,
              help="Calm seconds between faults (after the network recovered): MIN-MAX.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("chaos-data"), show_default=True,
              help="Where the network is written (replaced at every run).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the JSON report here (default: DIR/chaos-report.json).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report, not the summary.")
@click.option("--cleanup", is_flag=True,
              help="Only remove what an interrupted run left (namespaces, mounts) and exit.")
def chaos(
    seed: int | None,
    duration: float | None,
    faults: str,
    n: int,
    requesters: int,
    rate: float,
    network: str,
    clock_skew_ms: int,
    liveness_bound: float,
    round_timeout_ms: int,
    hold: str,
    gap: str,
    directory: Path,
    report_path: Path | None,
    as_json: bool,
    cleanup: bool,
) -> None:
    """Run a seeded chaos test on a fresh N-node testnet; exit 1 if a check fails.

    Faults (process signals, partitions, packet loss, latency, clock skew, a full disk) are
    applied one at a time under sustained request load; after the final heal every chain must
    agree, every acknowledged request be committed once, every ledger verify clean, no node
    have died on its own and a new request be decided within --liveness-bound.
    """
    from testnet.chaos.fabric import FabricError
    from testnet.chaos.netns import choose_fabric, clean_leftovers
    from testnet.chaos.report import summary
    from testnet.chaos.runner import ChaosSettings, run
    from testnet.chaos.schedule import ScheduleError, Timing, parse_kinds
    from testnet.launcher import LaunchError

    if cleanup:
        for line in clean_leftovers(directory):
            click.echo(line)
        return
    if seed is None or duration is None:
        raise click.UsageError("--seed and --duration are required (or --cleanup)")
    try:
        parse_kinds(faults)
    except ScheduleError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    timing = Timing(hold_s=_span(hold, "--hold"), gap_s=_span(gap, "--gap"))
    settings = ChaosSettings(
        seed=seed, duration_s=duration, directory=directory, faults=faults, nodes=n,
        requesters=requesters, rate=rate, network=network, clock_skew_ms=clock_skew_ms,
        liveness_bound_s=liveness_bound, round_timeout_ms=round_timeout_ms, timing=timing,
    )
    progress = (lambda _: None) if as_json else click.echo
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the nodes are stopped, the tmpfs
    # unmounted and the namespaces deleted by the run's finally blocks.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        fabric = choose_fabric(network, n, progress, seed)
        report = run(settings, fabric, progress)
    except (ScheduleError, LaunchError, FabricError) as exc:
        raise click.ClickException(str(exc)) from exc
    target = report_path or directory / "chaos-report.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("")
        click.echo(summary(report))
        click.echo(f"report: {target}")
    if not report["ok"]:
        raise SystemExit(1)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _span(text: str, option: str) -> tuple[float, float]:
    """``"2-4"`` -> ``(2.0, 4.0)``; a usage error unless 0 < MIN <= MAX <= 600."""
    low, _, high = text.partition("-")
    try:
        span = (float(low), float(high or low))
    except ValueError:
        span = (0.0, -1.0)
    if not 0 < span[0] <= span[1] <= 600:
        raise click.BadParameter(f"{text!r} is not MIN-MAX seconds (0 < MIN <= MAX <= 600)",
                                 param_hint=option)
    return span
