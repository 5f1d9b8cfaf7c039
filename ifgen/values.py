"""Parsers for single inventory values: each returns a typed value or raises BadValue."""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Network
from typing import Any, TypeVar

DEVICE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(\.[0-9]+)?$")
HOST_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*$"
)
TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
IFCFG_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Characters that bash, the 9.x service's eval and NetworkManager's reader all take literally.
SAFE_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:/@%+,=-]*$")
SAFE_SPACED_RE = re.compile(r"^[A-Za-z0-9_.:/@%+,= -]*$")
SYSCTL_KEY_RE = re.compile(r"^[a-z0-9_]+(?:[./][A-Za-z0-9_-]+)+$")
SYSCTL_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:/,-]+(?: [A-Za-z0-9_.:/,-]+)*$")
FWMARK_RE = re.compile(r"^(?:0x[0-9a-fA-F]+|[0-9]+)(?:/(?:0x[0-9a-fA-F]+|[0-9]+))?$")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
IFNAMSIZ = 15
RESERVED_TABLES = {"local": 255, "main": 254, "default": 253, "unspec": 0}
SCOPES = ("global", "site", "link", "host", "nowhere")
PROTOS = ("kernel", "boot", "static", "dhcp", "ra", "redirect")


class BadValue(Exception):
    """A value that does not fit; the message quotes it and says what was expected."""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def want_str(value: Any, what: str) -> str:
    """Require a string."""
    if not isinstance(value, str):
        raise BadValue(f"expected {what} as a string, got {_type_name(value)} {value!r}")
    return value


def parse_bool(value: Any) -> bool:
    """A real boolean: true or false."""
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {_type_name(value)} {value!r}")
    return value


def parse_int(value: Any, low: int, high: int) -> int:
    """An integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(
            f"expected an integer from {low} to {high}, got {_type_name(value)} {value!r}"
        )
    if not low <= value <= high:
        raise BadValue(f"{value!r} is out of range; expected an integer from {low} to {high}")
    return value


def parse_address(value: Any) -> IPv4Address:
    """A bare IPv4 address."""
    text = want_str(value, "an IPv4 address")
    try:
        return IPv4Address(text)
    except ValueError:
        raise BadValue(f"{text!r} is not an IPv4 address") from None


def parse_interface(value: Any) -> IPv4Interface:
    """An IPv4 address with its prefix, e.g. 172.16.3.111/24."""
    text = want_str(value, "an IPv4 interface address")
    if "/" not in text:
        raise BadValue(f"{text!r} has no prefix; expected an address in CIDR form like '{text}/24'")
    try:
        iface = IPv4Interface(text)
        addr, prefix = text.split("/", 1)
        IPv4Address(addr)
        if not prefix.isdigit():
            raise ValueError
    except ValueError:
        raise BadValue(
            f"{text!r} is not an IPv4 interface address (expected A.B.C.D/PREFIX)"
        ) from None
    net = iface.network
    if net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
        kind = "network" if iface.ip == net.network_address else "broadcast"
        raise BadValue(f"{text!r} is the {kind} address of {net}; a host cannot use it")
    return iface


NetworkT = TypeVar("NetworkT", IPv4Network, IPv6Network)


def parse_network(value: Any) -> IPv4Network:
    """A network in CIDR form whose host bits are zero; a bare address means /32."""
    return strict_network(value, IPv4Network, "an IPv4 network", "expected A.B.C.D/PREFIX")


def strict_network(value: Any, kind: type[NetworkT], what: str, hint: str) -> NetworkT:
    """A network of either family; host bits set get a "did you mean" with the network."""
    text = want_str(value, what)
    try:
        return kind(text)
    except ValueError:
        pass
    try:
        loose = kind(text, strict=False)
    except ValueError:
        raise BadValue(f"{text!r} is not {what} ({hint})") from None
    raise BadValue(f"{text!r} has host bits set; did you mean '{loose}'?")


def parse_device(value: str) -> str:
    """A kernel interface name that is also a safe file name part."""
    if len(value) > IFNAMSIZ or not DEVICE_RE.match(value):
        raise BadValue(
            f"device name {value!r} is not a safe interface name (expected a letter, then "
            f"letters, digits, '_' or '-', optionally '.VLAN'; at most {IFNAMSIZ} characters)"
        )
    return value


def parse_hostname(value: str) -> str:
    """A host name usable as one directory name."""
    if len(value) > 253 or not HOST_RE.match(value):
        raise BadValue(
            f"host name {value!r} is not a valid host name (expected letters, digits, "
            "'-', '_' and dots between labels)"
        )
    return value


def parse_mac(value: Any) -> str:
    """A MAC address, written upper-case with colons as ifup-eth compares it."""
    text = want_str(value, "a MAC address")
    if not MAC_RE.match(text):
        raise BadValue(
            f"{text!r} is not a MAC address (expected six hex pairs like B8:CA:3A:6D:FE:B0)"
        )
    return text.upper()


def parse_table_name(value: str) -> str:
    """A routing table name that may go into rt_tables."""
    if value in RESERVED_TABLES:
        raise BadValue(f"table name {value!r} is reserved by iproute2; choose another name")
    if not TABLE_RE.match(value) or len(value) > 64:
        raise BadValue(
            f"table name {value!r} is not valid "
            "(expected a letter, then letters, digits, '_' or '-')"
        )
    return value


def parse_table_id(value: Any) -> int:
    """A routing table number that rt_tables may name (0 and 253-255 are reserved)."""
    number = parse_int(value, 0, 255)
    if number in RESERVED_TABLES.values() or number > 252:
        raise BadValue(f"table id {number} is reserved by iproute2; expected 1 to 252")
    return number


def parse_ifcfg_value(value: Any) -> str:
    """A value safe to write into a file that bash sources as root."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    text = want_str(value, "a value")
    if not SAFE_SPACED_RE.match(text):
        raise BadValue(
            f"{text!r} contains characters that are unsafe in a file sourced by bash "
            "(allowed: letters, digits, space and _ . : / @ % + , = -)"
        )
    return text


def parse_sysctl_value(value: Any) -> str:
    """A sysctl value: an integer or plain words."""
    if isinstance(value, bool):
        raise BadValue(f"expected an integer or a string, got a boolean {value!r}; write 1 or 0")
    if isinstance(value, int):
        return str(value)
    text = want_str(value, "a sysctl value")
    if not SYSCTL_VALUE_RE.match(text):
        raise BadValue(
            f"{text!r} is not a safe sysctl value (letters, digits, _ . : / , - and single spaces)"
        )
    return text


def parse_scope(value: Any) -> str:
    """A route scope name or number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(parse_int(value, 0, 255))
    text = want_str(value, "a route scope")
    if text not in SCOPES:
        raise BadValue(f"{text!r} is not a route scope; expected one of: {', '.join(SCOPES)}")
    return text


def parse_proto(value: Any) -> str:
    """A route protocol name or number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(parse_int(value, 0, 255))
    text = want_str(value, "a route protocol")
    if text not in PROTOS:
        raise BadValue(f"{text!r} is not a route protocol; expected one of: {', '.join(PROTOS)}")
    return text


def parse_fwmark(value: Any) -> str:
    """A firewall mark, optionally with a mask: 0x10 or 16/0xff."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(parse_int(value, 0, 2**32 - 1))
    text = want_str(value, "a fwmark")
    if not FWMARK_RE.match(text):
        raise BadValue(f"{text!r} is not a fwmark (expected a number or MARK/MASK like 0x10/0xff)")
    return text


def is_ip(text: str) -> bool:
    """True when the text is an IPv4 address."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
