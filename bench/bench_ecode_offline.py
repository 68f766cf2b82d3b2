"""Benchmark the offline e-code: verification against raw Ed25519, and QR rendering against qrcode.

Run from the repository root: ``.venv/bin/python bench/bench_ecode_offline.py [--json PATH]``.

Goals: ``verify()`` keeps at least 0.8 of the throughput of a bare Ed25519 verify of the same signature and
message by the library it uses (libsodium's, through PyNaCl; OpenSSL's through ``cryptography`` is measured
too, as the verify used it before), and ``render_png`` is at least 3 times faster than ``qrcode.make(digits)`` saved to PNG
bytes with default options. Each figure is the median of several repeats; the two sides of each comparison
alternate repeat by repeat so that noise from other processes falls on both. The run takes about 15 s.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cryptography
import nacl
import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.signing import VerifyKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecode.qr import render_png, render_svg  # noqa: E402
from ecode.token import SIGNING_TAG, encrypt_subject, from_digits, issue_token, pack_claims, to_digits  # noqa: E402
from ecode.verifier import KeySet, verify  # noqa: E402

REPEATS = 9


def seconds_per_call(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def compare(
    ours: Callable[[], object], theirs: Callable[[], object], our_calls: int, their_calls: int
) -> tuple[float, float]:
    """Median seconds per call of each, measured in alternating repeats after one warm-up call each."""
    ours(), theirs()
    our_times, their_times = [], []
    for _ in range(REPEATS):
        our_times.append(seconds_per_call(ours, our_calls))
        their_times.append(seconds_per_call(theirs, their_calls))
    return statistics.median(our_times), statistics.median(their_times)


def qrcode_png(digits: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(digits).save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()

    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    keys = KeySet([(1, public_key, "active")])
    iat = int(time.time())
    digits = to_digits(
        issue_token(
            private_key=private_key,
            kid=1,
            iat=iat,
            subject=encrypt_subject(bytes(16), 42),
            claims=pack_claims(110000, 1, True),
        )
    )
    raw = from_digits(digits)
    signature, message = raw[30:], SIGNING_TAG + raw[:30]

    sodium_key = VerifyKey(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    verify_s, raw_s = compare(
        lambda: verify(digits, keys), lambda: sodium_key.verify(message, signature), 1500, 1500
    )
    _, openssl_s = compare(
        lambda: verify(digits, keys), lambda: public_key.verify(signature, message), 1500, 1500
    )
    png_s, qrcode_s = compare(lambda: render_png(digits), lambda: qrcode_png(digits), 400, 10)
    svg_s = statistics.median(seconds_per_call(lambda: render_svg(digits), 400) for _ in range(REPEATS))

    results = {
        "verify_per_second": 1 / verify_s,
        "raw_ed25519_verify_per_second": 1 / raw_s,
        "verify_ratio": raw_s / verify_s,
        "openssl_ed25519_verify_per_second": 1 / openssl_s,
        "verify_ratio_goal": 0.8,
        "render_png_ms": png_s * 1e3,
        "qrcode_make_png_ms": qrcode_s * 1e3,
        "png_speedup": qrcode_s / png_s,
        "png_speedup_goal": 3.0,
        "render_svg_ms": svg_s * 1e3,
        "png_bytes": len(render_png(digits)),
        "svg_bytes": len(render_svg(digits)),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "pynacl": nacl.__version__,
        "repeats": REPEATS,
    }
    verify_met = "met" if results["verify_ratio"] >= 0.8 else "NOT met"
    png_met = "met" if results["png_speedup"] >= 3 else "NOT met"
    print("| measure | ours | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| offline verify | {results['verify_per_second']:,.0f}/s"
        f" | {results['raw_ed25519_verify_per_second']:,.0f}/s (raw Ed25519, libsodium)"
        f" | {results['verify_ratio']:.2f} | ≥ 0.8, {verify_met} |"
    )
    print(
        f"| PNG render | {results['render_png_ms']:.3f} ms"
        f" | {results['qrcode_make_png_ms']:.2f} ms (qrcode.make + save)"
        f" | {results['png_speedup']:.1f}× | ≥ 3×, {png_met} |"
    )
    print(f"| SVG render | {results['render_svg_ms']:.3f} ms | | | |")
    print(
        f"\nPNG {results['png_bytes']} bytes, SVG {results['svg_bytes']} bytes; median of {REPEATS} repeats."
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
