"""Who is calling: server API keys, per-player tokens, and the rate limit each spends.

Two kinds of credential, both sent as `Authorization: Bearer <secret>`:

- **server keys** (a trusted game server): configured by the operator (`--api-key-file`,
  `BAZAAR_API_KEYS`); may create players, run direct trades, issue player tokens, and act
  for any player on offers.
- **player tokens**: issued by the server when a player is created (returned once) or by
  `POST /players/{id}/tokens`; may only act for their own player (make that player's
  offers, accept or decline offers addressed to it, cancel its own).

Secrets are never stored: only their SHA-256 (secrets are 256 random bits, so a plain
hash is enough; a slow password hash would buy nothing and cost every request). The key
file may hold `sha256:<hex>` lines (recommended: the file then holds no secret) or raw
keys (hashed on load). Editing the file rotates keys: it is re-read when its mtime changes
(checked at most once a second) or on SIGHUP.

With no server key configured, auth is OFF: every request acts with server authority and
`bazaar serve` warns loudly. With any key configured (even a file that is currently empty)
every request except `/catalog`, `/health`, `/openapi.json` and `/docs` needs a valid
credential: 401 when missing or unknown, 403 when the credential may not act on, or read,
what it names. Reads are private: a player token reads its own player, its own history,
the offers it made or received and the trades it took part in; a server key reads all.

Failed authentications (a credential sent and refused) are limited per client address:
past the budget the address gets 429 with Retry-After before its credential is even
looked at, so guessing tokens costs the guesser time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.requests import Request

from bazaar.api.ratelimit import RateLimit, RateLimiter, retry_after_seconds
from bazaar.domain.errors import Forbidden, RateLimited, Unauthenticated
from bazaar.domain.offers import SERVER, Actor
from bazaar.store.base import Store

log = logging.getLogger("bazaar.api.auth")

SERVER_KEY_PREFIX = "bzk_"
PLAYER_TOKEN_PREFIX = "bzp_"
HASH_PREFIX = "sha256:"
MAX_CREDENTIAL = 512
DEFAULT_PLAYER_RATE_LIMIT = RateLimit(50.0, 100)
DEFAULT_SERVER_RATE_LIMIT = RateLimit(1000.0, 2000)
DEFAULT_AUTH_FAILURE_LIMIT = RateLimit(5.0, 20)
_RECHECK_SECONDS = 1.0


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A fresh server key and the line to put in the key file for it."""
    key = new_secret(SERVER_KEY_PREFIX)
    return key, HASH_PREFIX + hash_secret(key)


def _key_line_hash(line: str) -> str:
    if line.startswith(HASH_PREFIX):
        digest = line[len(HASH_PREFIX) :].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"malformed key hash {line[:20]}...: expected sha256:<64 hex>")
        return digest
    if not line.isprintable() or any(c.isspace() for c in line):
        raise ValueError("malformed key: a raw key is one word of printable characters")
    return hash_secret(line)


def parse_key_lines(lines: Iterable[str]) -> frozenset[str]:
    """Hashes from key-file lines or BAZAAR_API_KEYS entries (blank and # lines skipped);
    ValueError on the first malformed line."""
    hashes, problems = read_key_lines(lines)
    if problems:
        raise ValueError(problems[0])
    return hashes


def read_key_lines(lines: Iterable[str]) -> tuple[frozenset[str], list[str]]:
    """The hashes of the well-formed lines, and what is wrong with each other line."""
    hashes: set[str] = set()
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            hashes.add(_key_line_hash(line))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return frozenset(hashes), problems


class ServerKeys:
    """The configured server key hashes; re-reads the key file when it changes."""

    def __init__(
        self, inline: Iterable[str] = (), path: str | Path | None = None, *, strict: bool = True
    ) -> None:
        """`strict`: an unreadable or malformed file raises (at `bazaar serve`'s start);
        otherwise (a worker started later) it fails closed like a reload."""
        self._inline = parse_key_lines(inline)
        self.path = Path(path) if path is not None else None
        self._from_file: frozenset[str] = frozenset()
        self._mtime: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._reload_requested = False
        self._lock = threading.Lock()
        if self.path is not None:
            if strict:
                self._load_file()
            else:
                self._checked = -_RECHECK_SECONDS
                self._refresh()

    @property
    def configured(self) -> bool:
        return bool(self._inline) or self.path is not None

    def request_reload(self) -> None:
        """For a SIGHUP handler: re-read the file on the next check."""
        self._reload_requested = True

    def _signature(self) -> tuple[int, int, int]:
        assert self.path is not None
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _load_file(self, *, strict: bool = True) -> None:
        assert self.path is not None
        signature = self._signature()
        hashes, problems = read_key_lines(self.path.read_text().splitlines())
        if problems and strict:
            raise ValueError(f"{self.path}: {problems[0]}")
        for problem in problems:
            log.error("server key file %s %s: line ignored", self.path, problem)
        self._from_file = hashes
        self._mtime = signature

    def _refresh(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not self._reload_requested and now - self._checked < _RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            forced, self._reload_requested = self._reload_requested, False
            try:
                if forced or self._signature() != self._mtime:
                    self._load_file(strict=False)
                    log.warning(
                        "reloaded %d server key(s) from %s", len(self._from_file), self.path
                    )
            except (OSError, UnicodeDecodeError) as exc:
                # Fail closed: keys that cannot be read now cannot be proven still valid
                # (the file may have been deleted to revoke them).
                if self._from_file or self._mtime is not None:
                    log.error(
                        "cannot read server keys from %s (%s): NO server key from it is"
                        " valid until it is readable again",
                        self.path,
                        exc,
                    )
                self._from_file = frozenset()
                self._mtime = None

    def knows(self, secret_hash: str) -> bool:
        self._refresh()
        found = False
        for known in (self._inline, self._from_file):
            for digest in known:
                found |= hmac.compare_digest(digest, secret_hash)
        return found


@dataclass(frozen=True, slots=True)
class Caller:
    """A request's authority: the server (any player) or one player."""

    actor: Actor
    bucket: str | None  # rate-limit bucket; None when auth is off

    @property
    def is_server(self) -> bool:
        return self.actor.is_server


OPEN = Caller(SERVER, None)


class AuthPolicy:
    """Authenticates writes and charges the caller's rate limit."""

    def __init__(
        self,
        keys: ServerKeys | None = None,
        *,
        player_limit: RateLimit | None = DEFAULT_PLAYER_RATE_LIMIT,
        server_limit: RateLimit | None = DEFAULT_SERVER_RATE_LIMIT,
        failure_limit: RateLimit | None = DEFAULT_AUTH_FAILURE_LIMIT,
    ) -> None:
        self.keys = keys
        self._players = RateLimiter(player_limit) if player_limit else None
        self._servers = RateLimiter(server_limit) if server_limit else None
        self._failures = RateLimiter(failure_limit) if failure_limit else None

    @property
    def enabled(self) -> bool:
        return self.keys is not None and self.keys.configured

    def authenticate(self, request: Request, store: Store) -> Caller:
        """The caller of a write. Raises Unauthenticated, RateLimited. May read the store
        (player tokens): call it off the event loop when the store is remote."""
        if not self.enabled:
            return OPEN
        assert self.keys is not None
        header = request.headers.get("authorization")
        if header is None:
            raise Unauthenticated("this server requires Authorization: Bearer <key or token>")
        address = request.client.host if request.client is not None else "-"
        self._check_failures(address)
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret or len(secret) > MAX_CREDENTIAL:
            self._failed(address)
            raise Unauthenticated("expected Authorization: Bearer <key or token>")
        digest = hash_secret(secret)
        if self.keys.knows(digest):
            caller = Caller(SERVER, "key:" + digest[:16])
            self._charge(self._servers, caller)
            return caller
        player_id = store.player_for_token(digest)
        if player_id is None:
            self._failed(address)
            raise Unauthenticated("unknown or revoked credential", invalid_token=True)
        caller = Caller(Actor(player_id), f"player:{player_id}")
        self._charge(self._players, caller)
        return caller

    def _check_failures(self, address: str) -> None:
        if self._failures is None:
            return
        wait = self._failures.wait(address)
        if wait > 0:
            raise RateLimited(
                "too many failed authentications from this address",
                retry_after=retry_after_seconds(wait),
            )

    def _failed(self, address: str) -> None:
        if self._failures is not None:
            self._failures.take(address)

    def _charge(self, limiter: RateLimiter | None, caller: Caller) -> None:
        if limiter is None or caller.bucket is None:
            return
        wait = limiter.take(caller.bucket)
        if wait > 0:
            raise RateLimited(
                f"rate limit {limiter.limit} exceeded for this credential",
                retry_after=retry_after_seconds(wait),
            )

    def issue_token(self, store: Store, player_id: int) -> str:
        """A new player token (returned to the client once; only its hash is kept)."""
        token = new_secret(PLAYER_TOKEN_PREFIX)
        store.add_player_token(player_id, hash_secret(token))
        return token


def require_server(caller: Caller, what: str) -> None:
    if not caller.is_server:
        raise Forbidden(f"{what} needs a server API key; a player token may not")


def require_player(caller: Caller, player_id: int, what: str) -> None:
    """A player token may only act for its own player; a server key for anyone."""
    if caller.actor.player_id not in (None, player_id):
        raise Forbidden(
            f"this token acts for player {caller.actor.player_id}; {what} is player {player_id}'s"
        )


def require_reader(caller: Caller, player_ids: Iterable[int], what: str) -> None:
    """A read of data belonging to `player_ids`: a server key reads anything, a player
    token only what its player is one of."""
    own = caller.actor.player_id
    if own is not None and own not in player_ids:
        raise Forbidden(f"this token reads player {own}'s data only; {what} is not theirs")


class AuthSettings(Protocol):
    """What the policy is read from (config.Settings is one)."""

    @property
    def api_keys(self) -> str | None: ...
    @property
    def api_key_file(self) -> str | None: ...
    @property
    def rate_limit(self) -> str: ...
    @property
    def server_rate_limit(self) -> str: ...
    @property
    def auth_failure_limit(self) -> str: ...


def auth_from_settings(settings: AuthSettings, *, strict: bool = True) -> AuthPolicy:
    """The policy `bazaar serve` configured (ValueError for a malformed key or limit; with
    `strict` False a key file that cannot be read fails closed instead)."""
    inline = (settings.api_keys or "").replace(",", "\n").splitlines()
    keys = None
    if any(k.strip() for k in inline) or settings.api_key_file:
        keys = ServerKeys(inline, settings.api_key_file, strict=strict)
    return AuthPolicy(
        keys,
        player_limit=RateLimit.parse(settings.rate_limit),
        server_limit=RateLimit.parse(settings.server_rate_limit),
        failure_limit=RateLimit.parse(settings.auth_failure_limit),
    )
