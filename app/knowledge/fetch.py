"""Fetching a URL for import without letting it reach inside our network (SSRF).

Every hop is resolved first and every address it resolves to must be public
(or inside a network the deployment explicitly allows); the connection is
then made to that checked address, with TLS still verified against the host
name, so a DNS answer cannot change between the check and the request.
Redirects are followed by hand, each one checked the same way.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3

MAX_REDIRECTS = 5
TIMEOUT = urllib3.Timeout(connect=5, read=20)
USER_AGENT = "CreatorHub-Importer/1.0"


class FetchError(Exception):
    """A readable reason the URL could not be imported."""


@dataclass
class FetchedPage:
    url: str  # the final URL after redirects
    data: bytes
    content_type: str


def check_url_syntax(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("Only http:// and https:// URLs with a host name can be imported.")
    if parts.username or parts.password:
        raise FetchError("URLs with a user name or password are not imported.")
    return url.strip()


def _allowed(address: ipaddress._BaseAddress, allowed_networks: list[str]) -> bool:
    if any(address in ipaddress.ip_network(network) for network in allowed_networks):
        return True
    return address.is_global and not address.is_multicast


def resolve_public(host: str, port: int, allowed_networks: list[str]) -> str:
    """The first address of `host`, if every address it resolves to is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"The host {host!r} could not be resolved.") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        # IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
        mapped = getattr(address, "ipv4_mapped", None) or address
        if not _allowed(mapped, allowed_networks):
            raise FetchError(f"The URL points to a private or reserved address ({mapped}); it is not imported.")
    return str(addresses[0])


def _request(url: str, allowed_networks: list[str], max_bytes: int):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_public(parts.hostname, port, allowed_networks)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=TIMEOUT,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=TIMEOUT, retries=False)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    response = pool.urlopen(
        "GET", path, headers={"Host": host_header, "User-Agent": USER_AGENT}, redirect=False, preload_content=False
    )
    return response


def _read_limited(response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"The page is larger than the {max_bytes // (1024 * 1024)} MB limit.")
    data = bytearray()
    for piece in response.stream(64 * 1024):
        data.extend(piece)
        if len(data) > max_bytes:
            raise FetchError(f"The page is larger than the {max_bytes // (1024 * 1024)} MB limit.")
    return bytes(data)


def fetch(url: str, max_bytes: int, allowed_networks: list[str] | None = None) -> FetchedPage:
    """GET `url`, following up to five redirects, each hop checked before connecting."""
    allowed = allowed_networks or []
    current = check_url_syntax(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = _request(current, allowed, max_bytes)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"The URL could not be fetched: {type(exc).__name__}.") from exc
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("The server redirected without saying where.")
                current = check_url_syntax(urljoin(current, location))
                continue
            if response.status >= 400:
                raise FetchError(f"The server answered HTTP {response.status}.")
            data = _read_limited(response, max_bytes)
            return FetchedPage(current, data, response.headers.get("Content-Type", ""))
        finally:
            response.release_conn()
    raise FetchError(f"More than {MAX_REDIRECTS} redirects.")
