"""Where players can reach this server: the addresses printed at start-up and shown on the landing page.

The only importer of psutil (interface addresses, which the standard library cannot list). Needs no Django, so
gunicorn's master process can print the banner before any worker loads the app.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping

import psutil

ALL_INTERFACES = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 - names of the wildcard binds
# All interfaces by default: players on phones and other machines are the point of the server, and everything it
# answers is authenticated with per-instance secrets. BIND=127.0.0.1 keeps it on this machine.
DEFAULT_BIND = "0.0.0.0"  # noqa: S104
DEFAULT_PORT = 8000


def listen_address(environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """The (address, port) the web server binds: BIND and PORT from the environment (as `make run` passes them)."""
    port = environ.get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"mcma: PORT must be a port number from 1 to 65535, not {port[:20]!r}")
    return environ.get("BIND") or DEFAULT_BIND, int(port)


def _usable(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return None
    return ip


def interface_addresses() -> list[str]:
    """Every non-loopback, non-link-local address of this machine, IPv4 first."""
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6) and (ip := _usable(entry.address)):
                found.add(ip)
    return [str(ip) for ip in sorted(found, key=lambda ip: (ip.version, ip))]


def _url(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def server_urls(bind: str, port: int) -> list[str]:
    """The base URLs a player should use for a server bound to `bind`:`port`.

    A wildcard bind is reachable at every interface address (and the machine's name, where the LAN resolves it);
    a bind to one address only there.
    """
    if bind not in ALL_INTERFACES:
        return [_url(bind, port)]
    hostname = socket.gethostname().split(".", 1)[0]
    addresses = interface_addresses()
    # A wildcard IPv4 bind does not answer on IPv6 addresses.
    if bind == "0.0.0.0":  # noqa: S104
        addresses = [address for address in addresses if ":" not in address]
    return [_url(address, port) for address in addresses] + [_url(f"{hostname}.local", port)]
