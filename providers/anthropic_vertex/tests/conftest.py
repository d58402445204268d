"""Fixtures for the Vertex plugin's tests: a loopback upstream serving both Google's token
endpoint and Vertex's rawPredict paths, and a throwaway service account signed with an RSA key
made here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from completions_core.testing.cassettes import Cassette, load_cassette

#: The Anthropic plugin's copies of the recordings (Vertex answers with the same Messages API
#: bodies); see cassettes/README.md here.
CASSETTES = Path(__file__).resolve().parents[2] / "anthropic" / "tests" / "cassettes"




@pytest.fixture
def cassette() -> Callable[[str], Cassette]:
    def load(name: str) -> Cassette:
        return load_cassette(CASSETTES / name)

    return load


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
