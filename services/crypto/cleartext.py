"""Finding cleartext-signed blocks (RFC 9580 §7) in text, and reading the text of one whose
signature did not verify (to show what a forged block claims). Verification itself is always the
engine's: this module never decides whether a block is genuine."""

from __future__ import annotations

import re

BEGIN = "-----BEGIN PGP SIGNED MESSAGE-----"
SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
BLOCK_RE = re.compile(
    r"-----BEGIN PGP SIGNED MESSAGE-----.*?-----END PGP SIGNATURE-----", re.DOTALL
)


def find_blocks(text: str) -> list[str]:
    """Every cleartext-signed block in ``text``, in order, each ending with a newline."""
    return [m.group(0) + "\n" for m in BLOCK_RE.finditer(text)]


def unverified_text(block: str | bytes) -> bytes:
    """The signed text of a block, read without checking anything (dash-escapes undone, the
    line break before the signature not included). Raises ``ValueError`` when malformed."""
    text = block.decode("utf-8", "replace") if isinstance(block, bytes) else block
    lines = text.replace("\r\n", "\n").split("\n")
    try:
        start = lines.index(BEGIN)
        blank = lines.index("", start + 1)  # the armor headers (Hash: …) end at a blank line
        end = lines.index(SIGNATURE, blank + 1)
    except ValueError as exc:
        raise ValueError("not a cleartext-signed block") from exc
    body = [line[2:] if line.startswith("- ") else line for line in lines[blank + 1 : end]]
    return "\n".join(body).encode()
