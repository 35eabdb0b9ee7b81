"""The servers the harness runs (issue 14): a two-node ejabberd cluster
routes between its nodes and keeps serving with one node gone, and the
XEP-0114 component listener that component mode will connect to accepts
the right secret and routes both ways, on Prosody and on ejabberd.  These
run whatever --server says."""
import hashlib
import re
import socket
import time

import pytest

import harness

DOMAIN = "updates." + harness.DOMAIN
SECRET = "component-Secret-7"


def have_ejabberd():
    try:
        harness.ejabberd_libs()
        return True
    except RuntimeError:
        return False


needs_ejabberd = pytest.mark.skipif(not have_ejabberd(), reason="ejabberd not installed")


class RawComponent:
    """A bare XEP-0114 connection: the handshake and raw stanzas."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.buf = ""

    def read_until(self, pattern, timeout=10):
        """The buffered text up to the first match of pattern (consumed),
        as a match object; AssertionError when the stream ends first."""
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no %r within %s s; got %r" % (pattern, timeout, self.buf[-500:]))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError("stream closed; got %r" % self.buf[-500:])
            self.buf += data.decode(errors="replace")

    def handshake(self, domain, secret):
        """True when the server accepts the secret for domain."""
        self.sock.sendall((
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % domain).encode())
        sid = self.read_until(r"<stream:stream[^>]*\sid=['\"]([^'\"]+)['\"][^>]*>").group(1)
        digest = hashlib.sha1((sid + secret).encode()).hexdigest()
        self.sock.sendall(("<handshake>%s</handshake>" % digest).encode())
        m = self.read_until(r"<handshake\s*/>|<handshake>\s*</handshake>|<stream:error>.*?</stream:error>")
        return m.group(0).startswith("<handshake")

    def send(self, xml):
        self.sock.sendall(xml.encode())

    def close(self):
        try:
            self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        self.sock.close()


def exchange(component, client, local="news"):
    """A client's message reaches local@DOMAIN through the component
    connection, and the component's answer reaches the client."""
    # A component's route reaches the other nodes of a cluster a moment
    # after its handshake (longer on a busy machine): until then the
    # message is bounced, so it is sent again.
    for attempt in range(8):
        client.send("to the component", to="%s@%s" % (local, DOMAIN))
        try:
            component.read_until(r"<message[^>]*\sfrom=['\"]%s[/'\"][^>]*>.*?"
                                 r"to the component.*?</message>" % re.escape(client.jid),
                                 timeout=2)
            break
        except AssertionError:
            if attempt == 7:
                raise
    component.send("<message from='%s@%s' to='%s' type='chat' id='c1'>"
                   "<body>from the component</body></message>" % (local, DOMAIN, client.jid))
    m = client.wait("from the component")
    assert m["frm"].startswith("%s@%s" % (local, DOMAIN))


def servers():
    return [pytest.param("prosody"),
            pytest.param("ejabberd", marks=needs_ejabberd)]


def disconnect(*clients):
    """Before the server stops (else each waits for a stream end)."""
    for c in clients:
        c.disconnect()


@pytest.mark.parametrize("kind", servers())
def test_component_listener(kind, tmp_path):
    server = harness.SERVERS[kind](tmp_path)
    port = server.add_component(DOMAIN, SECRET)
    server.start()
    alice = None
    try:
        wrong = RawComponent(port)
        assert not wrong.handshake(DOMAIN, "not the secret")
        wrong.close()
        comp = RawComponent(port)
        assert comp.handshake(DOMAIN, SECRET)
        alice = harness.Client(server, "alice").connect()
        exchange(comp, alice)
        comp.close()
    finally:
        disconnect(*[c for c in [alice] if c])
        server.stop()


@needs_ejabberd
@pytest.mark.parametrize("unlimited", [True, False])
def test_ejabberd_shaper_spares_only_the_bot(unlimited, tmp_path):
    """limits_unlimited exempts the bot's session from the c2s shaper;
    without it the bot gets the stock 3,000 bytes a second like anyone."""
    server = harness.Ejabberd(tmp_path, limits_unlimited=unlimited).start()
    alice = None
    try:
        bot = harness.Bot(server, tmp_path).start()
        alice = harness.Client(server, "alice").connect()
        stock = (3000, 20000)
        assert server.session_shaper("bot", "starling") == (None if unlimited else stock)
        assert server.session_shaper("alice", alice.xmpp.boundjid.resource) == stock
        assert bot.stop() == 0
    finally:
        disconnect(*[c for c in [alice] if c])
        server.stop()


@needs_ejabberd
def test_cluster_routes_between_nodes_and_outlives_one(tmp_path):
    cluster = harness.Cluster(tmp_path)
    ports = cluster.add_component(DOMAIN, SECRET)
    cluster.start()
    made = []

    def client(node, name, create=True):
        c = harness.Client(cluster[node], name, create=create).connect()
        made.append(c)
        return c
    try:
        assert cluster.running() == ["ejabberd0@localhost", "ejabberd1@localhost"]
        alice, bob = client(0, "alice"), client(1, "bob")
        # A chat to a bare JID is routed by what the sender's node knows
        # of the recipient's sessions: wait until both nodes know.
        cluster.wait_present("alice", "bob")
        alice.send("across the cluster", to=bob.jid)
        assert bob.wait("across the cluster")["frm"].startswith(alice.jid)
        bob.send("and back", to=alice.jid)
        alice.wait("and back")
        # A component on node 1 serves a client on node 0.
        comp = RawComponent(ports[1])
        assert comp.handshake(DOMAIN, SECRET)
        exchange(comp, alice)

        cluster.kill(0)
        # Node 1 goes on: its client and component still talk, and a
        # new account on it can log in and reach them.
        assert cluster.running(1) == ["ejabberd1@localhost"]
        carol = client(1, "carol")
        carol.send("node 0 is gone", to=bob.jid)
        bob.wait("node 0 is gone")
        exchange(comp, carol)
        comp.close()

        # Node 0 started again rejoins by itself and routes again.
        cluster[0].start()
        assert cluster.running(1) == ["ejabberd0@localhost", "ejabberd1@localhost"]
        alice = client(0, "alice", create=False)
        cluster.wait_present("alice")
        carol.send("welcome back", to=alice.jid)
        alice.wait("welcome back")
    finally:
        disconnect(*made)
        cluster.stop()
