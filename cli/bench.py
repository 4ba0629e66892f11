"""``iomtshare bench ...``: benchmarks that print a table and can write JSON.

Each command parses its options and calls ``run`` of its module in ``bench/``, which measures
and returns a :class:`bench.report.Report`; the modules are imported when their command runs,
so ``iomtshare bench --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bench.report import Report

backend_option = click.option(
    "--backend",
    type=click.Choice(["mcl", "py_ecc", "both"]),
    default="both",
    show_default=True,
    help="Pairing backend(s) to measure.",
)

json_option = click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every figure to this JSON file.",
)


e2e_runs_option = click.option(
    "--e2e-runs", type=click.IntRange(min=0), default=20, show_default=True,
    help="Sequential uploads of the end-to-end row, on a testnet of 4 nodes and an edge started "
         "for it (0: no end-to-end row, no testnet).",
)

e2e_burst_option = click.option(
    "--e2e-burst", type=click.IntRange(1, 100), default=10, show_default=True,
    help="Uploads sent at once for the end-to-end uploads/s.",
)


def _backends(choice: str) -> list[str]:
    return ["mcl", "py_ecc"] if choice == "both" else [choice]


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _show(report: Report, json_path: Path | None) -> None:
    """Print the report's tables; write its figures to ``json_path`` if given."""
    from bench.report import write_json

    click.echo(report.text)
    if json_path is not None:
        write_json(json_path, report.payload)
        click.echo(f"wrote {json_path}", err=True)


@contextmanager
def _bench_errors() -> Iterator[None]:
    """A step the benchmark drives failed (a process, the testnet, a request): a one-line
    reason and exit status 1 instead of a traceback."""
    from bench.report import BenchError
    from client.errors import ClientError
    from testnet.launcher import LaunchError
    from testnet.layout import LayoutError

    try:
        yield
    except (BenchError, LaunchError) as exc:
        raise click.ClickException(str(exc)) from exc
    except (ClientError, LayoutError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


@click.group()
def bench() -> None:
    """Measure the system and compare it with its anchors (umbral-pre, py_ecc, the papers)."""


@bench.command("crypto")
@backend_option
@click.option("--runs", type=click.IntRange(min=3), default=100, show_default=True,
              help="Measured runs per operation on mcl and for umbral-pre.")
@click.option("--pyecc-runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Measured runs per operation on py_ecc (a pairing there takes ~0.15 s).")
@click.option("--pyecc-configs", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many (t, n) configurations to run on py_ecc.")
@click.option("--no-umbral", is_flag=True, help="Skip the umbral-pre anchor.")
@json_option
def crypto(
    backend: str,
    runs: int,
    pyecc_runs: int,
    pyecc_configs: int,
    no_umbral: bool,
    json_path: Path | None,
) -> None:
    """Pairing-group operations and every threshold-PRE step, with umbral-pre as the anchor."""
    from bench import crypto_bench

    if pyecc_configs > len(crypto_bench.CONFIGS):
        raise click.BadParameter(
            f"there are {len(crypto_bench.CONFIGS)} configurations", param_hint="--pyecc-configs"
        )
    report = crypto_bench.run(
        _backends(backend), runs, pyecc_runs, pyecc_configs, not no_umbral, _progress
    )
    _show(report, json_path)


@bench.command("ledger")
@click.option("--records", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Records to store first.")
@click.option("--blocks", "block_counts", default="400,200,60", show_default=True,
              help="Blocks appended (and timed) for sizes 1,10,100.")
@click.option("--query-runs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Calls per query type.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Where to build the ledger (default: a temporary directory).")
@json_option
@click.option("--seed", default=1, show_default=True)
def ledger(
    records: int,
    block_counts: str,
    query_runs: int,
    directory: Path | None,
    json_path: Path | None,
    seed: int,
) -> None:
    """Append, verify and query a LevelDB ledger of RECORDS records; compare with raw LevelDB."""
    counts = _integers(block_counts, "--blocks")
    if len(counts) != 3 or min(counts) < 2:
        raise click.BadParameter("give three block counts of at least 2", param_hint="--blocks")
    from bench import ledger_bench

    with _bench_errors():
        report = ledger_bench.run(records, counts, query_runs, directory, seed, _progress)
    _show(report, json_path)


@bench.command("dual")
@backend_option
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Measured runs per figure point on mcl.")
@click.option("--pyecc-runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Measured runs per point on py_ecc (few points are run there).")
@click.option("--quick", is_flag=True,
              help="Cap sizes (items <= 100, data <= 5 MB, n <= 12) and the end-to-end row "
                   "(at most 5 uploads, 5 at once) for a fast check.")
@e2e_runs_option
@e2e_burst_option
@json_option
def dual(
    backend: str, runs: int, pyecc_runs: int, quick: bool, e2e_runs: int, e2e_burst: int,
    json_path: Path | None,
) -> None:
    """Seed 000's Figs. 6-9 and Table IV, next to the paper's numbers, and the device ->
    edge -> committed record path end to end."""
    from bench import dual_bench

    if quick:
        e2e_runs, e2e_burst = min(e2e_runs, 5), min(e2e_burst, 5)
    with _bench_errors():
        report = dual_bench.run(_backends(backend), runs, pyecc_runs, quick, _progress,
                                e2e_runs=e2e_runs, e2e_burst=e2e_burst)
    _show(report, json_path)


@bench.command("abe")
@backend_option
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Runs on mcl.")
@click.option("--pyecc-runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs on py_ecc, which only measures the and-10 case (a pairing takes "
                   "~0.4 s there).")
@click.option("--quick", is_flag=True, help="Only and-10 and 2-of-3 (a smoke run).")
@json_option
def abe(backend: str, runs: int, pyecc_runs: int, quick: bool, json_path: Path | None) -> None:
    """FAME CP-ABE KeyGen/Encrypt/Decrypt, anchored on Charm's published FAME figures."""
    from bench import abe_bench

    _show(abe_bench.run(_backends(backend), runs, pyecc_runs, quick, _progress), json_path)


@bench.command("light")
@click.option("--runs", type=click.IntRange(min=3), default=50, show_default=True)
@click.option("--payload-bytes", type=click.IntRange(min=1), default=40, show_default=True,
              help="Reading size (the paper's |M| is 320 bits = 40 bytes).")
@click.option("--quick", is_flag=True,
              help="Cap the end-to-end row at 5 uploads, 5 at once.")
@e2e_runs_option
@e2e_burst_option
@json_option
def light(
    runs: int, payload_bytes: int, quick: bool, e2e_runs: int, e2e_burst: int,
    json_path: Path | None,
) -> None:
    """Seed 001's phases on edwards25519 vs the paper's cost model (Tables 2 and 5), and a
    sensor upload -> committed record end to end."""
    from bench import light_bench

    if quick:
        e2e_runs, e2e_burst = min(e2e_runs, 5), min(e2e_burst, 5)
    with _bench_errors():
        report = light_bench.run(runs, payload_bytes, e2e_runs, e2e_burst, _progress)
    _show(report, json_path)


@bench.command("e2e")
@click.option("--nodes", "n", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--threshold", type=click.IntRange(1, 16), default=None, help="t (default: quorum).")
@click.option("--runs", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Sequential requests at low load.")
@click.option("--concurrency", "levels", default="5,10,20,30,40,50", show_default=True,
              help="Concurrent request counts at saturation.")
@click.option("--repeats", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Runs per concurrency level (the paper averages 10).")
@click.option("--requesters", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--size", type=click.IntRange(1, 200_000), default=4096, show_default=True,
              help="Bytes of the shared file.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Use the running testnet in DIR instead of starting one.")
@click.option("--round-timeout-ms", type=click.IntRange(100, 600_000), default=1000,
              show_default=True, help="Genesis round timeout of the started testnet.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=120.0, show_default=True)
@click.option("--sustained", is_flag=True,
              help="Also run the sustained load: open-loop arrivals at each of --rates.")
@click.option("--rates", default="10,20,40,60,80,100,120,150,200", show_default=True,
              help="Offered requests/s, tried in increasing order until one fails.")
@click.option("--duration", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Measured seconds per rate.")
@click.option("--warmup", type=click.FloatRange(0, 600), default=5.0, show_default=True,
              help="Unmeasured seconds before each rate's window.")
@click.option("--request-timeout", type=click.FloatRange(0.1, 600), default=10.0,
              show_default=True, help="A sustained request not done this long after its due "
                                      "time fails.")
@click.option("--p99-limit-ms", type=click.FloatRange(1, 600_000), default=1000.0,
              show_default=True, help="A rate whose p99 reaches this ends the sweep.")
@click.option("--max-failures", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, help="Fraction of failed requests a rate may have and pass.")
@click.option("--arrivals", type=click.Choice(["fixed", "poisson"]), default="fixed",
              show_default=True, help="Evenly spaced arrivals, or a Poisson process.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of --arrivals poisson.")
@click.option("--max-in-flight", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Worker threads (and connections per node) of the load generator.")
@click.option("--policy", is_flag=True,
              help="Also measure policy records next to owner-grant records (--runs each, "
                   "interleaved), the FAME decryption timed apart.")
@click.option("--prior-records", type=click.IntRange(0, 10_000_000), default=0,
              show_default=True,
              help="Records to put on the chain (one-byte files of 8 owners, no fragments "
                   "posted) after the setup and before the low-load runs, so latency is "
                   "measured on a longer chain; their rate is reported.")
@json_option
def e2e(
    n: int,
    threshold: int | None,
    runs: int,
    levels: str,
    repeats: int,
    requesters: int,
    size: int,
    directory: Path | None,
    round_timeout_ms: int,
    timeout: float,
    sustained: bool,
    rates: str,
    duration: float,
    warmup: float,
    request_timeout: float,
    p99_limit_ms: float,
    max_failures: float,
    arrivals: str,
    seed: int,
    max_in_flight: int,
    policy: bool,
    prior_records: int,
    json_path: Path | None,
) -> None:
    """Request-to-decrypt latency and committed requests/s on an n-node testnet: at low load,
    in bursts of c concurrent requests, with --sustained at fixed offered rates and with
    --policy for policy records next to owner-grant records; with --prior-records N, on a
    chain that already holds N more records."""
    concurrency = sorted(set(_integers(levels, "--concurrency")))
    if not concurrency or concurrency[0] < 1 or concurrency[-1] > 200:
        raise click.BadParameter("concurrency levels must be within 1..200",
                                 param_hint="--concurrency")
    from bench import e2e_bench
    from bench.load import LoadPlan

    plan = None
    if sustained:
        steps = sorted(set(_integers(rates, "--rates")))
        if not steps or steps[0] < 1 or steps[-1] > 10_000:
            raise click.BadParameter("rates must be within 1..10000", param_hint="--rates")
        plan = LoadPlan(
            tuple(steps), duration, warmup, request_timeout, p99_limit_ms, max_failures,
            arrivals == "poisson", seed, max_in_flight,
        )
    with _bench_errors():
        report = e2e_bench.run(
            n, threshold, runs, concurrency, repeats, requesters, size, directory,
            round_timeout_ms, timeout, _progress, plan, policy=policy,
            prior_records=prior_records,
        )
    _show(report, json_path)


@bench.command("disk")
@click.option("--nodes", "n", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--threshold", type=click.IntRange(1, 16), default=None, help="t (default: quorum).")
@click.option("--requests", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 200), default=8, show_default=True,
              help="Requests in flight at once (1: one request per block).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=120.0, show_default=True)
@json_option
def disk(n: int, threshold: int | None, requests: int, concurrency: int, timeout: float,
         json_path: Path | None) -> None:
    """LevelDB bytes on disk per granted access request on an n-node testnet, and where they
    go (ledger_bytes_per_granted_request in the JSON)."""
    from bench import disk_bench

    with _bench_errors():
        report = disk_bench.run(n, threshold, requests, concurrency, timeout=timeout,
                                progress=_progress)
    _show(report, json_path)


def _integers(text: str, option: str) -> list[int]:
    """Comma-separated integers, e.g. ``5,10,20``; a clear usage error otherwise."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise click.BadParameter("give comma-separated integers, e.g. 5,10,20",
                                 param_hint=option) from exc
