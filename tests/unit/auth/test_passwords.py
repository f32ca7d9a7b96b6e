"""Password hashes: strong, salted, verifiable."""

from __future__ import annotations

from xiaozhi_server.auth.passwords import hash_password, new_password, verify_password


def test_a_hash_verifies_only_its_own_password() -> None:
    hashed = hash_password("correct horse")
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct horse!", hashed)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")
    assert hash_password("same").startswith("scrypt$")


def test_a_malformed_hash_never_verifies() -> None:
    assert not verify_password("x", "not-a-hash")
    assert not verify_password("x", "scrypt$1$2$3$!!$!!")


def test_generated_passwords_are_long_and_unique() -> None:
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    assert min(len(p) for p in passwords) >= 20
