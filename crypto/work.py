"""Proof of work (hashcash over SHA-256): the client searches, the server checks with one hash.

A challenge is any byte string the server made; a solution is a decimal counter such that
SHA-256(challenge || ":" || counter) starts with `bits` zero bits. Finding one takes about
2**bits hashes on average; checking it takes one. The browser's script (static/js/challenge.js)
computes exactly this with WebCrypto's SHA-256.
"""

from cryptography.hazmat.primitives import hashes

MAX_BITS = 32
MAX_SOLUTION_DIGITS = 16


def _digest(challenge: bytes, solution: str) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(challenge + b":" + solution.encode("ascii"))
    return h.finalize()


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def work_done(challenge: bytes, solution: str, bits: int) -> bool:
    """Whether `solution` (decimal digits) solves `challenge` at `bits` zero bits."""
    if not 0 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be between 0 and {MAX_BITS}")
    if not solution.isascii() or not solution.isdigit() or len(solution) > MAX_SOLUTION_DIGITS:
        return False
    return leading_zero_bits(_digest(challenge, solution)) >= bits


def solve(challenge: bytes, bits: int, *, start: int = 0) -> str:
    """The first solution from `start` on: what the browser does, for tests and benchmarks."""
    counter = start
    while not work_done(challenge, str(counter), bits):
        counter += 1
    return str(counter)
