"""Who may use a served dashboard, and which paths it may touch: data roots, tokens and passwords.

A dashboard reachable beyond this machine admits a browser session only with a token printed
at start (or the owner's password), as Jupyter does. The server keeps only hashes of them:

    stored = token_hash(token)                    # "sha256$<hex>": tokens are random, a fast hash is enough
    stored = password_hash(password)              # "scrypt$n$r$p$<salt>$<hex>": people choose weak ones
    matches(candidate, stored)                    # constant-time comparison of the hashes
    session_proof(stored)                         # the browser session's cookie after sign-in
    check_inside_roots(path, roots) -> Path       # the resolved path, or OutsideRootsError naming the roots
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Iterable

# scrypt's recommended interactive cost (n=2**14, r=8: 16 MiB, about 50 ms): paid once per sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class OutsideRootsError(PermissionError):
    """A path the UI was given lies outside the server's data roots (symlinks resolved)."""


class PasswordFileError(ValueError):
    """A password file that is missing, readable by others, or not a hash this module wrote."""


def resolve_roots(roots: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    """The roots as absolute paths with symlinks resolved, each once, in the order given."""
    return tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))


def check_inside_roots(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path:
    """`path` resolved (symlinks and `..` followed), if it lies in one of `roots`; else OutsideRootsError."""
    allowed = resolve_roots(roots)
    resolved = Path(path).expanduser().resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        raise OutsideRootsError(f"{path} is outside the data roots this server allows: "
                                f"{', '.join(str(r) for r in allowed)} (--data-root)")
    return resolved


def new_token() -> str:
    """A random URL-safe token (32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """The line a password file holds: scrypt with a random salt, its parameters spelled out."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def _scrypt_parts(stored: str) -> tuple[int, int, int, bytes, bytes]:
    _, n, r, p, salt, digest = stored.split("$")
    return int(n), int(r), int(p), bytes.fromhex(salt), bytes.fromhex(digest)


def matches(candidate: str, stored: str) -> bool:
    """Whether `candidate` (a token or password typed or sent) hashes to `stored`, compared in constant time."""
    if stored.startswith("sha256$"):
        return hmac.compare_digest(token_hash(candidate), stored)
    if stored.startswith("scrypt$"):
        n, r, p, salt, digest = _scrypt_parts(stored)
        computed = hashlib.scrypt(candidate.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest))
        return hmac.compare_digest(computed, digest)
    return False


def session_proof(stored: str) -> str:
    """What a browser keeps (a session cookie) once it signed in with the secret behind `stored`:
    derived from the hash, so it reveals neither the token nor the password, and dies with the hash."""
    return hmac.new(stored.encode(), b"albench-dashboard session", hashlib.sha256).hexdigest()


def read_password_file(path: str | os.PathLike[str]) -> str:
    """The scrypt hash in `path`, a file only its owner may read; PasswordFileError otherwise."""
    file = Path(path).expanduser()
    try:
        info = file.stat()
        text = file.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordFileError(f"--password-file {file}: cannot read it ({exc})") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PasswordFileError(f"--password-file {file} is readable by others (mode {stat.S_IMODE(info.st_mode):o}); "
                                f"run `chmod 600 {file}`")
    try:
        n, r, p, salt, digest = _scrypt_parts(text)
        valid = text.startswith("scrypt$") and n > 1 and r > 0 and p > 0 and salt and len(digest) >= 16
    except ValueError:
        valid = False
    if not valid:
        raise PasswordFileError(f"--password-file {file} does not hold a password hash; write one with "
                                "`albench-dashboard --hash-password > FILE`")
    return text
