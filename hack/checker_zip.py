"""The inline code of examples/messaging.yaml's checker Function: examples/functions/certificate_checker.py
plus the stackery_tables package (clients/tables), zipped and base64-encoded.

`python hack/checker_zip.py` prints it; tests/client/test_tables.py checks that the example carries the
current sources (so the example never ships a stale copy of the client)."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sources() -> dict[str, bytes]:
    out = {
        f"stackery_tables/{p.name}": p.read_bytes() for p in sorted((ROOT / "clients/tables/src/stackery_tables").glob("*.py"))
    }
    out["certificate_checker.py"] = (ROOT / "examples/functions/certificate_checker.py").read_bytes()
    return out


def build() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sources().items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # fixed time: the same sources give the same zip
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


if __name__ == "__main__":
    print(build())
