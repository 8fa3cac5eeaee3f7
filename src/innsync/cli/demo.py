"""``innsync demo``: innsync and a channel simulator (Channex, or Beds24) with a demo hotel and
live traffic."""

from __future__ import annotations

from pathlib import Path

import click

from innsync.channels.errors import ChannelError


@click.command()
@click.option("--port", default=8080, show_default=True, type=int, help="innsync's port.")
@click.option("--sim-port", default=8090, show_default=True, type=int, help="The simulator's port.")
@click.option(
    "--minutes",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Run the traffic this long, then check both sides [default: until Ctrl-C].",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Repeatable traffic.")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the database and logs go; must not hold a demo yet [default: a new temp dir].",
)
@click.option(
    "--rate",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05, max=5),
    help="Traffic events per second, on average.",
)
@click.option(
    "--channel",
    default="channex",
    show_default=True,
    type=click.Choice(["channex", "beds24"]),
    help="The channel simulator the demo hotel is connected to.",
)
@click.option(
    "--outage-at",
    default=None,
    type=click.FloatRange(min=0),
    help="Fault: the channel answers only server errors from this minute of the traffic on "
    "(Channex; alert rules then run every 10 s and call a channel down after 1 minute).",
)
@click.option(
    "--outage-minutes",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=60),
    help="How long the outage of --outage-at lasts.",
)
def demo(
    port: int,
    sim_port: int,
    minutes: float | None,
    seed: int,
    data_dir: Path | None,
    rate: float,
    channel: str,
    outage_at: float | None,
    outage_minutes: float,
) -> None:
    """Run innsync and a channel simulator with a demo hotel and live traffic.

    The end (--minutes, or Ctrl-C) stops the traffic, waits for innsync to catch up and checks
    that the channel shows innsync's availability, rates and restrictions and that every OTA
    booking is in innsync exactly once (Beds24: and every direct booking on Beds24 once). The
    exit code is 1 when that check fails.
    """
    from innsync.demo.hotel import SetupError
    from innsync.demo.outage import Outage
    from innsync.demo.processes import ServerStartError
    from innsync.demo.runner import DemoError, DemoOptions, run_demo

    options = DemoOptions(
        port=port,
        sim_port=sim_port,
        minutes=minutes,
        seed=seed,
        data_dir=data_dir,
        rate=rate,
        channel=channel,
        outage=None if outage_at is None else Outage(outage_at, outage_minutes),
    )
    if options.outage is not None and channel != "channex":
        raise click.UsageError("--outage-at is for the Channex demo")
    try:
        report = run_demo(options, click.echo)
    except (DemoError, ServerStartError, SetupError, ChannelError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not report.passed:
        raise SystemExit(1)
