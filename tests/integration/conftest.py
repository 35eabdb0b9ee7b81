"""Fixtures: a private Prosody and Starling per test, clients on demand,
and everything stopped at teardown even when a test fails."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


@pytest.fixture
def prosody(tmp_path):
    p = harness.Prosody(tmp_path).start()
    yield p
    p.stop()


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.disconnect()


@pytest.fixture
def bot(prosody, tmp_path):
    b = harness.Bot(prosody, tmp_path).start()
    yield b
    rc = b.stop()
    if os.environ.get("STARLING_VALGRIND"):
        assert not b.valgrind_errors(), b.valgrind_errors()[0][-4000:]
    assert rc in (0, None), "starling exited with %s:\n%s" % (rc, b.read_log()[-3000:])


@pytest.fixture
def user(prosody, bot, clients):
    """user("alice") -> a client subscribed to the bot, welcome received."""
    def make(name, welcome=True):
        c = harness.join(prosody, name, welcome)
        clients.append(c)
        return c
    return make


@pytest.fixture
def client(prosody, clients):
    """client("eve") -> a connected client that has not subscribed."""
    def make(name, **kw):
        c = harness.Client(prosody, name).connect(**kw)
        clients.append(c)
        return c
    return make
