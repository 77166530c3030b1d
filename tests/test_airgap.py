"""Air-gap preflight on injected readings and on a fake /sys and /proc tree."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceremony.airgap import (
    IFF_LOOPBACK,
    IFF_RUNNING,
    IFF_UP,
    OK,
    REFUSE,
    WARN,
    Interface,
    Radio,
    Readings,
    Route,
    SwapArea,
    parse_ipv4_routes,
    parse_ipv6_routes,
    preflight,
    read_system,
    require_airgap,
)
from ceremony.errors import CheckFailed

NOW = datetime(2026, 11, 27, 20, 0, 0, tzinfo=UTC)
LO = Interface("lo", "unknown", IFF_UP | IFF_LOOPBACK | IFF_RUNNING)
ETH0_UP = Interface("eth0", "up", IFF_UP | IFF_RUNNING | 0x1000)
ETH0_DOWN = Interface("eth0", "down", 0x1002)
ETH0_NO_LINK = Interface("eth0", "down", IFF_UP | 0x1000)
WLAN0 = Interface("wlan0", "down", 0x1002, wireless=True)


def readings(**changes: object) -> Readings:
    base: dict[str, object] = {
        "now": NOW,
        "interfaces": (LO,),
        "default_routes": (),
        "radios": (),
        "bluetooth_adapters": (),
        "swaps": (),
        "entropy_avail": 256,
    }
    base.update(changes)
    return Readings(**base)  # type: ignore[arg-type]


def test_only_loopback_is_ok() -> None:
    report = preflight(readings())
    assert report.status == OK
    assert not report.network_up
    require_airgap(report, allow_network=False)


def test_eth0_up_with_default_route_is_refused() -> None:
    report = preflight(readings(interfaces=(LO, ETH0_UP), default_routes=(Route("ipv4", "eth0"),)))
    assert report.network_up
    assert report.check("network").status == REFUSE
    assert report.check("network").items == ("eth0",)
    assert report.check("routes").status == REFUSE
    with pytest.raises(CheckFailed, match="network is up: eth0 has a link") as caught:
        require_airgap(report, allow_network=False)
    assert "--allow-network" in (caught.value.fix or "")
    assert "recorded" in (caught.value.fix or "")


def test_allow_network_lets_it_pass() -> None:
    report = preflight(readings(interfaces=(LO, ETH0_UP)))
    require_airgap(report, allow_network=True)


def test_default_route_alone_is_refused() -> None:
    report = preflight(readings(default_routes=(Route("ipv6", "usb0"),)))
    assert report.network_up
    assert report.check("routes").items == ("usb0 (ipv6)",)


def test_interface_down_is_ok_and_enabled_without_link_warns() -> None:
    assert preflight(readings(interfaces=(LO, ETH0_DOWN))).check("network").status == OK
    report = preflight(readings(interfaces=(LO, ETH0_NO_LINK)))
    assert report.check("network").status == WARN
    assert not report.network_up


def test_tun_device_unknown_but_running_counts_as_up() -> None:
    tun = Interface("tun0", "unknown", IFF_UP | IFF_RUNNING)
    assert preflight(readings(interfaces=(LO, tun))).network_up


def test_wlan_present_and_unblocked_warns() -> None:
    radio = Radio("rfkill0", "wlan", soft_blocked=False, hard_blocked=False)
    report = preflight(readings(interfaces=(LO, WLAN0), radios=(radio,)))
    assert report.check("wireless").status == WARN
    assert "rfkill block all" in report.check("wireless").message
    assert not report.network_up


def test_wlan_interface_without_rfkill_switch_warns() -> None:
    report = preflight(readings(interfaces=(LO, WLAN0)))
    assert report.check("wireless").status == WARN


def test_wlan_up_and_connected_is_refused() -> None:
    wlan_up = Interface("wlan0", "up", IFF_UP | IFF_RUNNING, wireless=True)
    assert preflight(readings(interfaces=(LO, wlan_up))).network_up


@pytest.mark.parametrize(("soft", "hard"), [(True, False), (False, True), (True, True)])
def test_rfkill_blocked_is_ok(soft: bool, hard: bool) -> None:
    radios = (Radio("rfkill0", "wlan", soft, hard), Radio("rfkill1", "bluetooth", soft, hard))
    report = preflight(
        readings(interfaces=(LO, WLAN0), radios=radios, bluetooth_adapters=("hci0",))
    )
    assert report.check("wireless").status == OK
    assert report.check("bluetooth").status == OK
    assert report.status == OK


def test_bluetooth_unblocked_warns() -> None:
    radio = Radio("rfkill1", "bluetooth", False, False)
    report = preflight(readings(radios=(radio,), bluetooth_adapters=("hci0",)))
    assert report.check("bluetooth").status == WARN
    assert report.check("bluetooth").items == ("hci0",)


def test_swap_entropy_and_clock() -> None:
    report = preflight(
        readings(
            swaps=(SwapArea("/dev/sda2", 1024, 10),),
            entropy_avail=40,
            now=datetime(2000, 1, 1, tzinfo=UTC),
        )
    )
    assert report.check("swap").status == WARN
    assert report.check("entropy").status == WARN
    assert report.check("clock").status == WARN
    assert not report.network_up


def test_clock_is_shown_for_confirmation() -> None:
    check = preflight(readings()).check("clock")
    assert check.status == OK
    assert "2026-11-27T20:00:00Z" in check.message


def test_unreadable_sources_warn_rather_than_pass() -> None:
    report = preflight(readings(interfaces=None, default_routes=None, swaps=None))
    assert report.check("network").status == WARN
    assert report.check("routes").status == WARN
    assert report.check("swap").status == WARN


def test_to_details_is_plain_data() -> None:
    details = preflight(readings(interfaces=(LO, ETH0_UP))).to_details()
    assert details["network_up"] is True
    assert details["status"] == REFUSE
    assert details["time"] == "2026-11-27T20:00:00Z"
    checks = details["checks"]
    assert isinstance(checks, list)
    assert {c["name"] for c in checks} >= {"network", "routes", "wireless", "swap"}


ROUTE_V4 = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
ZERO = "0" * 32
GW = "fd000000000000000000000000000001"
LINK_LOCAL = "fe800000000000000000000000000000"
ROUTE_V6 = (
    f"{ZERO} 00 {ZERO} 00 {GW} 00000400 00000002 00000000 00000003 eth0\n"
    f"{ZERO} 00 {ZERO} 00 {ZERO} ffffffff 00000001 00000000 00200200 lo\n"
    f"{LINK_LOCAL} 40 {ZERO} 00 {ZERO} 00000100 00000002 00000000 00000001 eth0\n"
)


def test_route_parsers_find_default_routes_only() -> None:
    assert parse_ipv4_routes(ROUTE_V4) == (Route("ipv4", "eth0"),)
    assert parse_ipv6_routes(ROUTE_V6) == (Route("ipv6", "eth0"),)
    assert parse_ipv6_routes(ROUTE_V6.splitlines()[1]) == ()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_read_system_from_a_fake_tree(tmp_path: Path) -> None:
    net = tmp_path / "sys/class/net"
    _write(net / "lo/operstate", "unknown\n")
    _write(net / "lo/flags", "0x9\n")
    _write(net / "eth0/operstate", "up\n")
    _write(net / "eth0/flags", "0x1003\n")
    _write(net / "wlp2s0/operstate", "down\n")
    _write(net / "wlp2s0/flags", "0x1002\n")
    (net / "wlp2s0/wireless").mkdir()
    _write(tmp_path / "sys/class/rfkill/rfkill0/type", "wlan\n")
    _write(tmp_path / "sys/class/rfkill/rfkill0/soft", "1\n")
    _write(tmp_path / "sys/class/rfkill/rfkill0/hard", "0\n")
    _write(tmp_path / "proc/net/route", ROUTE_V4)
    _write(tmp_path / "proc/net/ipv6_route", ROUTE_V6)
    _write(tmp_path / "proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n")
    _write(tmp_path / "proc/sys/kernel/random/entropy_avail", "256\n")

    found = read_system(tmp_path, now=NOW)
    assert [i.name for i in found.interfaces or ()] == ["eth0", "lo", "wlp2s0"]
    assert found.radios == (Radio("rfkill0", "wlan", True, False),)
    assert found.bluetooth_adapters == ()
    assert found.swaps == ()
    assert found.entropy_avail == 256

    report = preflight(found)
    assert report.network_up
    assert report.check("network").items == ("eth0",)
    assert report.check("wireless").status == OK


def test_read_system_on_an_empty_tree_warns(tmp_path: Path) -> None:
    report = preflight(read_system(tmp_path, now=NOW))
    assert report.check("network").status == WARN
    assert report.check("entropy").status == WARN
    assert not report.network_up
