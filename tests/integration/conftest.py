"""Fixtures: a private XMPP server and Starling per test, clients on
demand, and everything stopped at teardown even when a test fails.

The server is Prosody unless --server=ejabberd (or STARLING_SERVER=ejabberd)
says otherwise; the fixture is still called "prosody" in the tests, "server"
names the same thing.  Tests marked "core" are the ones make test also runs
on ejabberd."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--server", choices=sorted(harness.SERVERS), default=None,
                     help="XMPP server the integration tests run against "
                     "(default $STARLING_SERVER, else prosody)")


def pytest_configure(config):
    kind = config.getoption("--server")
    if kind:
        os.environ["STARLING_SERVER"] = kind
    harness.server_kind()  # a wrong $STARLING_SERVER stops the run here
    config.addinivalue_line(
        "markers", "core: essentials make test also runs on ejabberd")
    config.addinivalue_line(
        "markers", "server(**kw): keywords for the test's harness.Server")
    config.addinivalue_line(
        "markers", "upload(**kw): keywords for test_upload.py's harness.Prosody")


def pytest_report_header(config):
    return "XMPP server: " + harness.server_kind()


@pytest.fixture
def server(request, tmp_path):
    """The server, started; @pytest.mark.server(KEY=VALUE...) passes its
    keywords to harness.Server (e.g. unlimited=[JID])."""
    marker = request.node.get_closest_marker("server")
    s = harness.Server(tmp_path, **(marker.kwargs if marker else {})).start()
    yield s
    s.stop()


@pytest.fixture
def prosody(server):
    """The chosen server (Prosody or ejabberd): the name is historical."""
    return server


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
