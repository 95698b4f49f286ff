"""Resumable, checksum-verified downloads (``brainage download ixi``).

Uses only the standard library's HTTP client: a dedicated downloader dependency would buy
little over Range requests + hashing, which is all this needs.

Integrity: the byte count must match the server's ``Content-Length``; the SHA-256 must match
the expected digest when one is known (``--sha256`` or :data:`IXI_FILES`); the digest is then
written beside the file (``NAME.sha256``), and a re-run verifies the local copy against it
instead of downloading again. IXI does not publish official checksums, so the first download's
digest is recorded and every later use is checked against it.
"""

from __future__ import annotations

import hashlib
import http.client
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from brainage.errors import InputError
from brainage.progress import make_progress

IXI_BASE_URL = "http://biomedic.doc.ic.ac.uk/brain-development/downloads/IXI/"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str | None = None


IXI_FILES = {
    "t1": RemoteFile("IXI-T1.tar", IXI_BASE_URL + "IXI-T1.tar"),
    "xls": RemoteFile("IXI.xls", IXI_BASE_URL + "IXI.xls"),
}

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download (``dest.part``).

    Example:
        >>> download("http://127.0.0.1:8000/IXI.xls", "data/IXI.xls")  # doctest: +SKIP
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    recorded = dest.with_name(dest.name + ".sha256")
    if dest.exists():
        known = sha256 or (recorded.read_text().split()[0] if recorded.exists() else None)
        actual = sha256_of(dest)
        if known and actual != known:
            raise InputError(
                dest, f"existing file's SHA-256 {actual} does not match {known}; delete it to download again"
            )
        recorded.write_text(f"{actual}  {dest.name}\n")
        return dest

    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the partial file is already complete
            response = None
        else:
            raise InputError(url, f"download failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(url, f"download failed: {exc}") from None

    if response is not None:
        with response:
            resumed = response.status == 206
            if not resumed:
                have = 0  # the server ignored our Range header: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with open(part, "ab" if resumed else "wb") as fh, make_progress() as progress:
                task = progress.add_task(f"downloading {dest.name}", total=total, completed=have)
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        fh.write(block)
                        progress.advance(task, len(block))
                except (OSError, http.client.HTTPException) as exc:
                    raise InputError(
                        url, f"connection lost after {fh.tell()} bytes ({exc}); run again to resume"
                    ) from None
        if total is not None and part.stat().st_size != total:
            raise InputError(
                url, f"download incomplete: got {part.stat().st_size} of {total} bytes; run again to resume"
            )
    actual = sha256_of(part)
    if sha256 and actual != sha256:
        part.unlink()
        raise InputError(url, f"checksum mismatch: SHA-256 {actual}, expected {sha256}; the partial file was removed")
    part.replace(dest)
    recorded.write_text(f"{actual}  {dest.name}\n")
    return dest


def download_ixi(
    out_dir: str | Path, base_url: str = IXI_BASE_URL, extract: bool = True, checksums: dict[str, str] | None = None
) -> Path:
    """Fetch IXI-T1.tar and IXI.xls into ``out_dir`` and unpack the T1 images into ``out_dir/T1``."""
    out_dir = Path(out_dir)
    checksums = checksums or {}
    for key, remote in IXI_FILES.items():
        url = base_url.rstrip("/") + "/" + remote.name
        download(url, out_dir / remote.name, sha256=checksums.get(key) or remote.sha256)
    if extract:
        t1_dir = out_dir / "T1"
        t1_dir.mkdir(exist_ok=True)
        try:
            with tarfile.open(out_dir / IXI_FILES["t1"].name) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith((".nii", ".nii.gz"))]
                for m in members:
                    m.name = Path(m.name).name  # flatten: never write outside T1/
                    if not (t1_dir / m.name).exists():
                        tar.extract(m, t1_dir, filter="data")
        except tarfile.TarError as exc:
            raise InputError(out_dir / IXI_FILES["t1"].name, f"not a valid tar archive ({exc})") from None
    return out_dir
