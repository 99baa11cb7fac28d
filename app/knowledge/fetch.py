"""Fetching a URL for import without letting it reach inside our network (SSRF).

Every hop is resolved first and every address it resolves to must be public
(or inside a network the deployment explicitly allows); the connection is
then made to that checked address, with TLS still verified against the host
name, so a DNS answer cannot change between the check and the request.
Redirects are followed by hand, each one checked the same way.

A fetch also has an overall deadline and a size cap: a server that trickles a
byte every few seconds never trips a per-read timeout, so a watchdog shuts the
sockets down when the deadline passes, and the body is counted as it streams.
"""

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from flask import current_app, has_app_context

MAX_REDIRECTS = 5
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 20.0
DEFAULT_DEADLINE_SECONDS = 30.0  # URL_IMPORT_DEADLINE_SECONDS in the config
CHUNK_BYTES = 16 * 1024
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


class _Watchdog:
    """Shuts down every socket of one fetch when its deadline passes, waking a blocked read."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = threading.Event()
        self._connections = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        with self._lock:
            for connection in self._connections:
                connection.close()

    def remaining(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0 or self.expired.is_set():
            raise self.error()
        return left

    def error(self) -> "FetchError":
        return FetchError(f"The server did not send the page within {self.seconds:g} seconds; it is not imported.")

    def watch(self, pool):
        """Remember each connection the pool opens, so _expire can reach its socket."""
        new_conn = pool._new_conn

        def tracked():
            connection = new_conn()
            with self._lock:
                self._connections.append(connection)
            return connection

        pool._new_conn = tracked
        return pool

    def _expire(self):
        with self._lock:
            self.expired.set()
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed
                    pass


def _request(url: str, allowed_networks: list[str], watchdog: _Watchdog):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_public(parts.hostname, port, allowed_networks)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    left = watchdog.remaining()
    timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, left), read=min(READ_TIMEOUT, left))
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    watchdog.watch(pool)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return pool.urlopen(
        "GET", path, headers={"Host": host_header, "User-Agent": USER_AGENT}, redirect=False, preload_content=False
    )


def _too_large(max_bytes: int) -> FetchError:
    if max_bytes >= 1024 * 1024:
        return FetchError(f"The page is larger than the {max_bytes // (1024 * 1024)} MB limit.")
    return FetchError(f"The page is larger than the {max_bytes} byte limit.")


def _read_limited(response, max_bytes: int, watchdog: _Watchdog) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    data = bytearray()
    # Small pieces, counted as they arrive: the cap holds whatever the server (or its compression) claims.
    for piece in response.stream(CHUNK_BYTES):
        data.extend(piece)
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        watchdog.remaining()
    # The watchdog's shutdown reads as the end of the body: a page cut off by it is not a page.
    watchdog.remaining()
    return bytes(data)


def _deadline_seconds(deadline_seconds: float | None) -> float:
    if deadline_seconds is not None:
        return deadline_seconds
    if has_app_context():
        return float(current_app.config.get("URL_IMPORT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS))
    return DEFAULT_DEADLINE_SECONDS


def fetch(
    url: str, max_bytes: int, allowed_networks: list[str] | None = None, deadline_seconds: float | None = None
) -> FetchedPage:
    """GET `url`, following up to five redirects, each hop checked before connecting; the whole
    fetch (every hop, headers and body) ends within the deadline (URL_IMPORT_DEADLINE_SECONDS)."""
    with _Watchdog(_deadline_seconds(deadline_seconds)) as watchdog:
        try:
            return _fetch(url, max_bytes, allowed_networks or [], watchdog)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if watchdog.expired.is_set():
                raise watchdog.error() from exc
            raise FetchError(f"The URL could not be fetched: {type(exc).__name__}.") from exc


def _fetch(url: str, max_bytes: int, allowed: list[str], watchdog: _Watchdog) -> FetchedPage:
    current = check_url_syntax(url)
    for _ in range(MAX_REDIRECTS + 1):
        response = _request(current, allowed, watchdog)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("The server redirected without saying where.")
                current = check_url_syntax(urljoin(current, location))
                continue
            if response.status >= 400:
                raise FetchError(f"The server answered HTTP {response.status}.")
            data = _read_limited(response, max_bytes, watchdog)
            return FetchedPage(current, data, response.headers.get("Content-Type", ""))
        finally:
            response.release_conn()
    raise FetchError(f"More than {MAX_REDIRECTS} redirects.")
