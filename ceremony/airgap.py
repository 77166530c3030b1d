"""Air-gap preflight: is this laptop really offline?

A ceremony's keys are only as safe as the machine that drives the tokens.
Before anything changes state we look at what the kernel reports (network
interfaces, default routes, radios, swap, entropy and the clock) and give
each a status:

- ``ok``: nothing to do.
- ``warn``: shown and recorded, the ceremony may go on. Used for radios
  that are present and not blocked (wireless or Bluetooth hardware that
  could be switched on at any time: block it with ``rfkill block all``),
  a wired port that is enabled but has no link, swap that is on, low
  entropy, a clock that is clearly wrong, and anything we could not read.
- ``refuse``: the network is up: a non-loopback interface with a link, or
  a default route. State-changing commands stop unless the operator passes
  ``--allow-network``, which the transcript records as an exception.

Everything is read from ``/sys`` and ``/proc`` into a :class:`Readings`
value first, so the checks are pure functions that tests drive with fake
readings. Nothing here opens a socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ceremony.errors import NetworkUp

OK = "ok"
WARN = "warn"
REFUSE = "refuse"
_RANK = {OK: 0, WARN: 1, REFUSE: 2}

# Bits of /sys/class/net/*/flags (linux/if.h).
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
# Bits of the route flags (linux/route.h, linux/ipv6_route.h).
RTF_UP = 0x1
RTF_REJECT = 0x200

#: Below this many bits the kernel's pool is reported as low.
MIN_ENTROPY = 256
#: A clock reading before this is certainly wrong (a reset real-time clock).
EARLIEST_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Interface:
    """One network interface as the kernel reports it."""

    name: str
    operstate: str
    flags: int
    wireless: bool = False

    @property
    def loopback(self) -> bool:
        return self.name == "lo" or bool(self.flags & IFF_LOOPBACK)

    @property
    def enabled(self) -> bool:
        """Administratively up: it would carry traffic once it has a link."""
        return bool(self.flags & IFF_UP)

    @property
    def connected(self) -> bool:
        """Up with a link: packets can leave through it now."""
        if not self.enabled:
            return False
        if self.operstate == "up":
            return True
        return self.operstate == "unknown" and bool(self.flags & IFF_RUNNING)


@dataclass(frozen=True)
class Route:
    """A default route: the way out to any address."""

    family: str
    interface: str


@dataclass(frozen=True)
class Radio:
    """An rfkill switch: a wireless, Bluetooth or mobile-broadband radio."""

    name: str
    type: str
    soft_blocked: bool
    hard_blocked: bool

    @property
    def blocked(self) -> bool:
        return self.soft_blocked or self.hard_blocked


@dataclass(frozen=True)
class SwapArea:
    """One line of /proc/swaps."""

    name: str
    size_kib: int
    used_kib: int


@dataclass(frozen=True)
class Readings:
    """What the kernel told us; ``None`` means the source could not be read."""

    now: datetime
    interfaces: tuple[Interface, ...] | None = ()
    default_routes: tuple[Route, ...] | None = ()
    radios: tuple[Radio, ...] | None = ()
    bluetooth_adapters: tuple[str, ...] | None = ()
    swaps: tuple[SwapArea, ...] | None = ()
    entropy_avail: int | None = None


@dataclass(frozen=True)
class Check:
    """One finding: which check, its status and a sentence for people."""

    name: str
    status: str
    message: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreflightReport:
    """All findings of one preflight run."""

    time: datetime
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """The worst status of all checks."""
        return max((c.status for c in self.checks), key=_RANK.__getitem__, default=OK)

    @property
    def network_up(self) -> bool:
        """True when an interface has a link or a default route exists."""
        return any(c.status == REFUSE for c in self.checks if c.name in ("network", "routes"))

    def check(self, name: str) -> Check:
        """The check called ``name`` (network, routes, wireless, bluetooth, ...)."""
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_details(self) -> dict[str, object]:
        """The findings as plain data for the transcript's preflight record."""
        return {
            "time": _iso(self.time),
            "status": self.status,
            "network_up": self.network_up,
            "checks": [
                {"name": c.name, "status": c.status, "message": c.message, "items": list(c.items)}
                for c in self.checks
            ],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------- reading


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_interface(directory: Path) -> Interface:
    flags_text = (_read(directory / "flags") or "0").strip()
    try:
        flags = int(flags_text, 16)
    except ValueError:
        flags = 0
    operstate = (_read(directory / "operstate") or "unknown").strip()
    return Interface(directory.name, operstate, flags, (directory / "wireless").exists())


def read_interfaces(root: Path) -> tuple[Interface, ...] | None:
    """Network interfaces under ``root``/sys/class/net."""
    base = root / "sys/class/net"
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return None
    return tuple(_read_interface(entry) for entry in entries)


def parse_ipv4_routes(text: str) -> tuple[Route, ...]:
    """Default routes in the text of /proc/net/route."""
    routes = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            flags = int(cols[3], 16)
        except ValueError:
            continue
        if cols[1] == "00000000" and cols[7] == "00000000" and flags & RTF_UP:
            routes.append(Route("ipv4", cols[0]))
    return tuple(routes)


def parse_ipv6_routes(text: str) -> tuple[Route, ...]:
    """Default routes in the text of /proc/net/ipv6_route.

    The kernel keeps an unreachable default route on ``lo``; it leads
    nowhere and is skipped, as is any reject route.
    """
    routes = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 10:
            continue
        try:
            flags = int(cols[8], 16)
        except ValueError:
            continue
        default = set(cols[0]) == {"0"} and cols[1] == "00"
        if default and flags & RTF_UP and not flags & RTF_REJECT and cols[9] != "lo":
            routes.append(Route("ipv6", cols[9]))
    return tuple(routes)


def read_default_routes(root: Path) -> tuple[Route, ...] | None:
    """Default routes from ``root``/proc/net (IPv4 and IPv6)."""
    v4 = _read(root / "proc/net/route")
    v6 = _read(root / "proc/net/ipv6_route")
    if v4 is None and v6 is None:
        return None
    return parse_ipv4_routes(v4 or "") + parse_ipv6_routes(v6 or "")


def read_radios(root: Path) -> tuple[Radio, ...] | None:
    """rfkill switches under ``root``/sys/class/rfkill (none if absent)."""
    base = root / "sys/class/rfkill"
    if not base.exists():
        return ()
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return None
    radios = []
    for entry in entries:
        kind = (_read(entry / "type") or "unknown").strip()
        soft = (_read(entry / "soft") or "0").strip() == "1"
        hard = (_read(entry / "hard") or "0").strip() == "1"
        radios.append(Radio(entry.name, kind, soft, hard))
    return tuple(radios)


def read_bluetooth(root: Path) -> tuple[str, ...] | None:
    """Bluetooth adapters under ``root``/sys/class/bluetooth (none if absent)."""
    base = root / "sys/class/bluetooth"
    if not base.exists():
        return ()
    try:
        return tuple(sorted(entry.name for entry in base.iterdir()))
    except OSError:
        return None


def parse_swaps(text: str) -> tuple[SwapArea, ...]:
    """Swap areas in the text of /proc/swaps."""
    areas = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 4 and cols[2].isdigit() and cols[3].isdigit():
            areas.append(SwapArea(cols[0], int(cols[2]), int(cols[3])))
    return tuple(areas)


def read_entropy(root: Path) -> int | None:
    """The kernel's available entropy in bits."""
    text = _read(root / "proc/sys/kernel/random/entropy_avail")
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def read_system(root: Path = Path("/"), now: datetime | None = None) -> Readings:
    """Gather the readings from this machine (``root`` lets tests use a fake tree)."""
    swaps_text = _read(root / "proc/swaps")
    return Readings(
        now=now or datetime.now(UTC),
        interfaces=read_interfaces(root),
        default_routes=read_default_routes(root),
        radios=read_radios(root),
        bluetooth_adapters=read_bluetooth(root),
        swaps=parse_swaps(swaps_text) if swaps_text is not None else None,
        entropy_avail=read_entropy(root),
    )


# ------------------------------------------------------------------ checks


def _names(items: Iterable[str]) -> str:
    return ", ".join(items)


def check_network(interfaces: tuple[Interface, ...] | None) -> Check:
    """Refuse when a non-loopback interface has a link."""
    if interfaces is None:
        return Check(
            "network",
            WARN,
            "Could not read the network interfaces (/sys/class/net); "
            "check by hand that every cable is unplugged.",
        )
    others = [i for i in interfaces if not i.loopback]
    connected = [i.name for i in others if i.connected]
    if connected:
        return Check(
            "network",
            REFUSE,
            f"Network is up on {_names(connected)}: this computer is connected.",
            tuple(connected),
        )
    enabled = [i.name for i in others if i.enabled]
    if enabled:
        return Check(
            "network",
            WARN,
            f"{_names(enabled)} is enabled but has no link: plugging in a cable would "
            "connect it. Disable it (ip link set DEV down) or remove the cable for good.",
            tuple(enabled),
        )
    return Check("network", OK, "No network interface is up (only loopback).")


def check_routes(routes: tuple[Route, ...] | None) -> Check:
    """Refuse when there is any default route."""
    if routes is None:
        return Check("routes", WARN, "Could not read the routing table (/proc/net/route).")
    if routes:
        via = sorted({f"{r.interface} ({r.family})" for r in routes})
        return Check("routes", REFUSE, f"There is a default route via {_names(via)}.", tuple(via))
    return Check("routes", OK, "No default route: nothing can reach the internet.")


def _radio_check(name: str, label: str, present: list[str], radios: list[Radio]) -> Check:
    """Warn while a radio of this kind exists and is not blocked."""
    unblocked = [r.name for r in radios if not r.blocked]
    title = label[0].upper() + label[1:]
    if unblocked or (present and not radios):
        where = _names(present or unblocked)
        return Check(
            name,
            WARN,
            f"{title} hardware is present and not blocked ({where}). "
            "Block it with 'rfkill block all', or remove the hardware.",
            tuple(present or unblocked),
        )
    if radios:
        blocked = _names(r.name for r in radios)
        return Check(name, OK, f"{title} is blocked ({blocked}).")
    return Check(name, OK, f"No {label} hardware found.")


def check_wireless(readings: Readings) -> Check:
    """Wireless LAN and mobile broadband radios."""
    if readings.interfaces is None or readings.radios is None:
        return Check("wireless", WARN, "Could not read the wireless devices; check by hand.")
    present = [i.name for i in readings.interfaces if i.wireless]
    radios = [r for r in readings.radios if r.type in ("wlan", "wwan")]
    return _radio_check("wireless", "wireless", present, radios)


def check_bluetooth(readings: Readings) -> Check:
    """Bluetooth adapters and their radios."""
    if readings.bluetooth_adapters is None or readings.radios is None:
        return Check("bluetooth", WARN, "Could not read the Bluetooth devices; check by hand.")
    radios = [r for r in readings.radios if r.type == "bluetooth"]
    return _radio_check("bluetooth", "Bluetooth", list(readings.bluetooth_adapters), radios)


def check_clock(now: datetime) -> Check:
    """Show the clock for the operator to confirm against a witness's watch."""
    shown = _iso(now)
    if now < EARLIEST_PLAUSIBLE:
        return Check(
            "clock",
            WARN,
            f"The system clock reads {shown}, which cannot be right; "
            "set it before signing, since expiry dates are computed from it.",
            (shown,),
        )
    return Check(
        "clock",
        OK,
        f"The system clock reads {shown} (UTC); confirm it against a witness's watch.",
        (shown,),
    )


def check_swap(swaps: tuple[SwapArea, ...] | None) -> Check:
    """Warn when swap is on: memory, a typed PIN included, may reach a disk."""
    if swaps is None:
        return Check("swap", WARN, "Could not read /proc/swaps.")
    if swaps:
        used = sum(s.used_kib for s in swaps)
        names = tuple(s.name for s in swaps)
        return Check(
            "swap",
            WARN,
            f"Swap is on ({_names(names)}, {used} KiB in use): memory may be written to "
            "disk. Turn it off with 'swapoff -a'.",
            names,
        )
    return Check("swap", OK, "Swap is off.")


def check_entropy(bits: int | None) -> Check:
    """Warn when the kernel reports little entropy (keys are made on tokens)."""
    if bits is None:
        return Check("entropy", WARN, "Could not read the kernel's available entropy.")
    if bits < MIN_ENTROPY:
        return Check("entropy", WARN, f"The kernel reports only {bits} bits of entropy available.")
    return Check("entropy", OK, f"The kernel reports {bits} bits of entropy available.")


def preflight(readings: Readings | None = None) -> PreflightReport:
    """Run every check on ``readings`` (read from this machine by default)."""
    readings = readings or read_system()
    checks = (
        check_network(readings.interfaces),
        check_routes(readings.default_routes),
        check_wireless(readings),
        check_bluetooth(readings),
        check_clock(readings.now),
        check_swap(readings.swaps),
        check_entropy(readings.entropy_avail),
    )
    return PreflightReport(readings.now, checks)


def require_airgap(report: PreflightReport, allow_network: bool) -> None:
    """Stop a state-changing command while the network is up, unless allowed.

    With ``allow_network`` the caller goes on and must record the override
    as an exception in the transcript.
    """
    if not report.network_up or allow_network:
        return
    parts = []
    if report.check("network").status == REFUSE:
        parts.append(f"{_names(report.check('network').items)} has a link")
    if report.check("routes").status == REFUSE:
        parts.append(f"default route via {_names(report.check('routes').items)}")
    found = "; ".join(parts)
    raise NetworkUp(
        f"network is up: {found}",
        "unplug the cable or disable the interface (and block radios with "
        "'rfkill block all'), then run the command again; or pass --allow-network, "
        "which is recorded in the ceremony transcript as an exception",
    )
