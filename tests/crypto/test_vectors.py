"""Known answers, produced once and committed: any change to a blob format breaks these tests.

Blobs already stored in databases must stay readable, so a failing vector here means a new
format version is needed, not a new vector.
"""

import io

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

import crypto
from crypto import secretbox, streams

KEY = bytes(range(32))

BOX_NONCE = bytes(range(100, 112))
BOX_PLAINTEXT = b"Meldung: Beispieltext"
BOX_BLOB = bytes.fromhex(
    "01026465666768696a6b6c6d6e6f057eb2020c8731a41e203a81a91503982eb66372ff1d5122fd2f27d0bf0cf2b823e5d8482d"
)

STREAM_PREFIX = bytes.fromhex("a0a1a2a3a4a5a6a7")
STREAM_PLAINTEXT = b"Anhang: vierzig Bytes Beispielinhalt...!"
STREAM_BLOB = bytes.fromhex(
    "0103a0a1a2a3a4a5a6a700000010bf3786c93f554805a116bfebf61f528ac11f8af71db8d46099ace23d87ec09"
    "dc71fa234107702ab4aac3c1500fe167cce9141ddcced5f00d6a359654985603e3bef1c9f5884a2fa339aff592"
    "5f6fa04a2fd827dd4bcf367d"
)

# The X25519 private key of RFC 7748, section 6.1 (Alice).
PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
SEALED_PLAINTEXT = b"case key 32 bytes..............."
SEALED_BLOB = bytes.fromhex(
    "0101cca371068efa60ad79abf07423a7d838b4693f5ea3b2925f2865e0134f2b924f3d1cdd427525b492833289"
    "59fc2d8b5e3052a644698808920e3abe16222f9962612d49d02399a275eea20fa6426775d8"
)

PASSWORD = "Passwort für Tests"
WRAPPED_BLOB = bytes.fromhex(
    "0104000000080000000100000001ffb40ca72142460ecf699adae02381ba5446f9b8ec8b8b9018f42b8282dd9f"
    "83d7f49f6d5f54527f43aabe4e0f81b9ce33b20340ac1cbdfa49ebbf6b669397fc7769e2b8c7a9c20bc8f8598f"
)
PASSWORD_HASH = "$argon2id$v=19$m=8,t=1,p=1$ATu/LsNG4JlQY0OCE2hhBQ$advd261yWJFigHA1/I0nB1L91TzFmwplQWf+GHSV1po"

RECEIPT_SALT = b"komma-test-salt!"
RECEIPT_PEPPER = b"komma-test-pepper"
LOOKUP_ID = bytes.fromhex("a8918c640fce5d938da9ffea5cab0356b00dd73beaa05fd85588e0e35db67fdc")
REPORTER_KEY = bytes.fromhex("eef56c10dcb7c786efe8f9d834c911b9504bff1543d6af5ffdc7c25adf36469a")


def test_box_vector() -> None:
    blob = secretbox._encrypt_with_nonce(KEY, BOX_NONCE, BOX_PLAINTEXT, "report", "case-0001")
    assert blob == BOX_BLOB
    assert crypto.box_decrypt(KEY, BOX_BLOB, purpose="report", record_id="case-0001") == BOX_PLAINTEXT


def test_box_layout_matches_the_documentation() -> None:
    aad = b"\x01\x02" + b"komma/v1/report/case-0001"
    assert AESGCM(KEY).decrypt(BOX_BLOB[2:14], BOX_BLOB[14:], aad) == BOX_PLAINTEXT


def test_stream_vector() -> None:
    out = io.BytesIO()
    streams._encrypt_stream(KEY, io.BytesIO(STREAM_PLAINTEXT), out, "attachment", "case-0001/att-1", 16, STREAM_PREFIX)
    assert out.getvalue() == STREAM_BLOB
    plain = crypto.decrypt_bytes_stream(KEY, STREAM_BLOB, purpose="attachment", record_id="case-0001/att-1")
    assert plain == STREAM_PLAINTEXT


def test_stream_layout_matches_the_documentation() -> None:
    header = STREAM_BLOB[:14]
    assert header == b"\x01\x03" + STREAM_PREFIX + (16).to_bytes(4, "big")
    ctx = b"komma/v1/attachment/case-0001/att-1"
    aead = AESGCM(KEY)
    body = STREAM_BLOB[14:]
    first = aead.decrypt(STREAM_PREFIX + b"\x00\x00\x00\x00", body[:32], header + b"\x00" + ctx)
    last = aead.decrypt(STREAM_PREFIX + b"\x00\x00\x00\x02", body[64:], header + b"\x01" + ctx)
    assert first == STREAM_PLAINTEXT[:16]
    assert last == STREAM_PLAINTEXT[32:]


def test_sealed_vector() -> None:
    assert crypto.public_key_of(PRIVATE) == PUBLIC
    opened = crypto.open_sealed(PRIVATE, SEALED_BLOB, purpose="case-key", record_id="case-0001")
    assert opened == SEALED_PLAINTEXT


def test_sealed_layout_is_plain_hpke() -> None:
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    private = X25519PrivateKey.from_private_bytes(PRIVATE)
    opened = suite.decrypt(SEALED_BLOB[2:], private, info=b"komma/v1/case-key/case-0001")
    assert opened == SEALED_PLAINTEXT


def test_wrapped_key_vector() -> None:
    assert crypto.unwrap_private_key(WRAPPED_BLOB, PASSWORD) == PRIVATE


def test_password_hash_vector() -> None:
    assert crypto.verify_password(PASSWORD_HASH, PASSWORD)
    assert not crypto.verify_password(PASSWORD_HASH, PASSWORD + " ")


def test_receipt_vector() -> None:
    keys = crypto.derive_receipt_keys(
        "1234 5678 9012 3456", salt=RECEIPT_SALT, pepper=RECEIPT_PEPPER, params=crypto.TEST_ARGON2
    )
    assert keys.lookup_id == LOOKUP_ID
    assert keys.reporter_key == REPORTER_KEY


def test_receipt_derivation_matches_the_documentation() -> None:
    master = Argon2id(
        salt=RECEIPT_SALT,
        length=32,
        iterations=1,
        lanes=1,
        memory_cost=8,
        secret=RECEIPT_PEPPER,
        ad=b"komma/v1/receipt-code",
    ).derive(b"1234567890123456")

    def expand(info: bytes) -> bytes:
        return HKDFExpand(algorithm=hashes.SHA256(), length=32, info=info).derive(master)

    assert expand(b"komma/v1/receipt/lookup-id") == LOOKUP_ID
    assert expand(b"komma/v1/receipt/reporter-key") == REPORTER_KEY
