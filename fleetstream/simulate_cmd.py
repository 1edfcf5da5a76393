"""``fleetstream simulate``: a simulated day in closed loop with the engine (click command)."""

from __future__ import annotations

import sys

import click
import orjson

from fleetstream import cli
from fleetstream.cli import config_options
from fleetstream.sim.world import SCENARIOS

HELP = """\
Run the world simulator in closed loop with the engine (its decisions change the
world: docs/simulator.md); write events.jsonl.gz, truth/*.jsonl.gz and
manifest.json into --out, a replay folder for `fleetstream replay` and
`fleetstream evaluate`.  Prints the manifest's name, seed, sizes and closed-loop
KPIs as JSON.  Exit codes: 0 ok, 1 internal error, 2 bad usage or input,
130 interrupted.
"""


@click.command("simulate", cls=cli.Command, help=HELP, context_settings=cli.CONTEXT)
@click.option("--scenario", type=click.Choice(SCENARIOS), default="small",
              help="the simulated world (docs/simulator.md)")
@click.option("--seed", type=int, default=None, show_default="the scenario's own seed",
              help="override the scenario's seed")
@click.option("--out", required=True, metavar="DIR",
              help="replay folder to write: missing or empty, or with --force an earlier "
              "simulation's folder")
@click.option("--force", is_flag=True, help="overwrite the files of an earlier simulation in --out")
@click.option("-q", "--quiet", is_flag=True, help="no progress lines")
@click.option("--driver-knowledge", is_flag=True,
              help="drivers who delivered at an address with access instructions know the "
              "way in: fewer access failures, no time spent finding the entrance "
              "(docs/simulator.md; off: access does not depend on the driver)")
@click.option("--world-timezone", metavar="ZONE", default=None,
              help="the simulated world's local clock, an IANA zone (e.g. Europe/Andorra): "
              "customers' schedules and stated hours, opening hours and the road map's "
              "rush hours are its local times (docs/simulator.md, 'Local time'); the "
              "engine reads its own engine.timezone  [default: the scenario's, customers "
              "on UTC hours]")
@click.option("--road-map", metavar="MAP", default=None,
              help="place the world on this road graph: a shipped name (andorra) or the "
              "path of a .npz written by scripts/osm_to_graph.py from an OpenStreetMap "
              "extract; the scenario's zones, fleet and orders on its roads "
              "(docs/simulator.md, 'Your own map'); the engine reads its own "
              "engine.travel_provider and engine.travel_map  [default: the scenario's own "
              "world]")
@config_options
def command(scenario: str, seed: int | None, out: str, force: bool, quiet: bool,
            driver_knowledge: bool, world_timezone: str | None, road_map: str | None,
            config: str | None, sets: tuple[str, ...]) -> int:
    from fleetstream.sim.clock import check, mismatch
    from fleetstream.sim.record import check_sim_out, simulate_to
    if world_timezone is not None:
        try:
            check(world_timezone)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--world-timezone") from None
    if road_map is not None:
        from fleetstream.sim.roadworld import check_road_map
        from fleetstream.sim.world import Scenario
        try:
            check_road_map(road_map, Scenario.preset(scenario).zones)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--road-map") from None
    s = cli.load_settings(config, sets)
    folder = check_sim_out(out, force=force)  # before the simulation starts
    from fleetstream.sim.roadworld import map_mismatch
    for note in (mismatch(world_timezone, s.engine.timezone),
                 map_mismatch(road_map, s.engine.travel_provider, s.engine.travel_map)):
        if note and not quiet:
            print(f"  note: {note}", file=sys.stderr, flush=True)
    folder.apply()
    manifest = simulate_to(scenario, out, seed=seed, settings=s.engine, progress=not quiet,
                           driver_knowledge=driver_knowledge, timezone=world_timezone,
                           road_map=road_map)
    folder.mark("complete", scenario=manifest["name"], seed=manifest["seed"])
    print(orjson.dumps({k: manifest[k] for k in ("name", "seed", "sizes", "closed_loop_kpis")},
                       option=orjson.OPT_INDENT_2).decode())
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(command, argv, "fleetstream simulate", guarded=True, usage_exits=True)


if __name__ == "__main__":
    sys.exit(main())
