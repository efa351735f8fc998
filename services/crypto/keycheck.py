"""Engine-independent checks of key material offered by users (pure Python, no engine)."""

from __future__ import annotations

from dataclasses import dataclass

from services.crypto import _packets as pkt
from services.crypto.port import KeyErrorKind, KeyImportError

_RSA_LIKE = (
    pkt.ALG_RSA,
    pkt.ALG_RSA_E,
    pkt.ALG_RSA_S,
    pkt.ALG_DSA,
    pkt.ALG_ELGAMAL,
    pkt.ALG_ELGAMAL_ES,
)
_SUPPORTED_CURVES = ("ed25519", "cv25519", "nistp256", "nistp384", "nistp521", "ed448", "x448")
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class ParsedKeyBlock:
    """The key packets of one public key block, primary first."""

    primary: pkt.KeyMaterial
    subkeys: tuple[pkt.KeyMaterial, ...]
    binary: bytes


def check_strength(key: pkt.KeyMaterial) -> None:
    """Refuse weak or unsupported algorithms (RSA/DSA < 2048, ElGamal, unknown curves)."""
    if key.algorithm in (pkt.ALG_ELGAMAL, pkt.ALG_ELGAMAL_ES):
        raise KeyImportError(KeyErrorKind.WEAK_ALGORITHM, key.name)
    if key.algorithm in _RSA_LIKE and key.bits < MIN_RSA_BITS:
        raise KeyImportError(KeyErrorKind.WEAK_ALGORITHM, key.name)
    if key.curve is not None and key.curve not in _SUPPORTED_CURVES:
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, key.name)


def to_binary(raw: bytes) -> bytes:
    """Binary OpenPGP data from armored or binary input."""
    if b"-----BEGIN PGP " in raw:  # armor, possibly with text pasted around it
        try:
            return pkt.dearmor(raw)
        except pkt.PacketError as exc:
            raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc
    return raw


def precheck_public_key(raw: bytes, max_bytes: int) -> ParsedKeyBlock:
    """Size, secret key by mistake, not OpenPGP, several keys, unknown packet versions."""
    if len(raw) > max_bytes:
        raise KeyImportError(KeyErrorKind.TOO_LARGE)
    if b"PRIVATE KEY BLOCK" in raw:
        raise KeyImportError(KeyErrorKind.SECRET_KEY)
    if raw.count(b"-----BEGIN PGP PUBLIC KEY BLOCK") > 1:
        raise KeyImportError(KeyErrorKind.MULTIPLE_KEYS)
    binary = to_binary(raw)
    primary: pkt.KeyMaterial | None = None
    subkeys: list[pkt.KeyMaterial] = []
    try:
        for tag, body in pkt.iter_packets(binary):
            if tag in (pkt.TAG_SECRET_KEY, pkt.TAG_SECRET_SUBKEY):
                raise KeyImportError(KeyErrorKind.SECRET_KEY)
            if tag == pkt.TAG_PUBLIC_KEY:
                if primary is not None:
                    raise KeyImportError(KeyErrorKind.MULTIPLE_KEYS)
                primary = _parse(body)
            elif tag == pkt.TAG_PUBLIC_SUBKEY:
                subkeys.append(_parse(body))
    except pkt.PacketError as exc:
        raise KeyImportError(KeyErrorKind.NOT_OPENPGP) from exc
    if primary is None:
        raise KeyImportError(KeyErrorKind.NOT_OPENPGP)
    return ParsedKeyBlock(primary=primary, subkeys=tuple(subkeys), binary=binary)


def _parse(body: bytes) -> pkt.KeyMaterial:
    try:
        return pkt.parse_key(body)
    except pkt.PacketError as exc:
        if body[:1] not in (b"\x04", b"\x06"):
            raise KeyImportError(KeyErrorKind.UNSUPPORTED, "key version") from exc
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, str(exc)) from exc
