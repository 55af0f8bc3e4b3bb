"""`mapnet up`'s watch over a region's services, with a services command that crashes at once:
started again after 0.5 s, 1 s, 2 s, 4 s, 8 s, and the sixth crash within a minute stops
everything; crashes spread over more than a minute are restarted for ever. The supervisor's
clock is the test's: each of its pauses lasts until the real process has crashed, then moves
the clock on by the pause, so the times asserted are the ones the supervisor went by, exactly,
however slowly this machine starts a process."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mapnet.ops.servers import Managed
from mapnet.ops.supervisor import RegionProcesses, Supervisor
from mapnet.runtime.settings import Settings

CRASH = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]


class Crashing(Managed):
    """The region's services, crashing as soon as they start; each start's time is noted."""

    def __init__(self, log: Path, clock: VirtualClock) -> None:
        super().__init__("services[tallinn]", CRASH, log)
        self.clock, self.started_at = clock, list[float]()

    def start(self) -> None:
        self.started_at.append(self.clock.now)
        super().start()

    def crashed(self) -> None:
        assert self.proc is not None
        assert self.proc.wait(30) == 3


class VirtualClock:
    def __init__(self, pause_s: float | None = None, pauses: int | None = None) -> None:
        """``pause_s``: how far each pause moves the clock (else as long as asked);
        ``pauses``: after so many, a signal to stop (Ctrl-C)."""
        self.now, self.pause_s, self.pauses = 0.0, pause_s, pauses
        self.services: Crashing | None = None

    def sleep(self, seconds: float) -> None:
        assert self.services is not None
        self.services.crashed()
        self.now += self.pause_s if self.pause_s is not None else seconds
        if self.pauses is not None:
            self.pauses -= 1
            if self.pauses == 0:
                raise KeyboardInterrupt


def watched(tmp_path: Path, clock: VirtualClock) -> tuple[Supervisor, Crashing, list[str]]:
    lines: list[str] = []
    settings = Settings.model_validate({"MAPNET_HOME": str(tmp_path)})
    supervisor = Supervisor(settings, ["tallinn"], echo=lines.append, clock=lambda: clock.now,
                            sleep=clock.sleep)  # fmt: skip
    services = Crashing(tmp_path / "services.log", clock)
    clock.services = services
    region = RegionProcesses("tallinn", "nats://unused", "mongodb://unused", services=services)
    supervisor.started.append(region)
    services.start()
    services.crashed()  # the first crash is seen at once, at 0
    return supervisor, services, lines


def delays(lines: list[str]) -> list[float]:
    return [float(d) for line in lines for d in re.findall(r"restarting in ([\d.]+) s", line)]


def test_crashes_are_restarted_after_doubling_delays_and_the_sixth_in_a_minute_stops_all(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    supervisor, services, lines = watched(tmp_path, clock)
    assert supervisor.watch() == 1
    assert delays(lines) == [0.5, 1.0, 2.0, 4.0, 8.0]
    # Crashed at 0, 1, 2.5, 5 and 9.5 (each seen one pause after its start), each started
    # again once its delay had passed; the sixth crash, at 18, is the sixth within a minute.
    assert services.started_at == [0.0, 0.5, 2.0, 4.5, 9.0, 17.5]
    assert "crashed 6 times in a minute; stopping everything" in lines[-1]
    assert "boom" in lines[-1]  # with what the services said last
    assert not supervisor.settings.state_file.exists()  # stopped: `mapnet status` says so


def test_crashes_spread_over_more_than_a_minute_are_restarted_for_ever(tmp_path: Path) -> None:
    """One crash every 20 s: never more than three in a minute, so never a stop, and the
    delay grows only with the crashes of the last minute."""
    clock = VirtualClock(pause_s=20.0, pauses=30)
    supervisor, services, lines = watched(tmp_path, clock)
    assert supervisor.watch() == 0  # stopped by the signal, not by the crashes
    assert not any("stopping everything" in line for line in lines)
    # Crashes seen at 0, 40, 80, …: the first alone in its minute, each later one with the one
    # before it; each started again at the next look (20 s on), the delay being shorter.
    assert delays(lines) == [0.5] + [1.0] * 14
    assert services.started_at == [0.0, 20.0] + [60.0 + 40 * n for n in range(14)]
    assert lines[-1] == "stopping …"
