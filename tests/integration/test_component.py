"""Component mode (SPEC 10), on Prosody and on ejabberd alike: the bot is
a XEP-0114 component, answers subscriptions itself, keeps its subscribers
in its store, greets them at start (presence, subscription request,
probe) and delivers by the same rules as in client mode; with per-user
addresses every user NICK is also NICK@domain."""
import os
import time

import pytest

import harness

SERVICE = "updates." + harness.DOMAIN
SECRET = "component-Secret-7"


@pytest.fixture(params=sorted(harness.SERVERS))
def kind(request):
    """Each component scenario runs on both servers."""
    return request.param


def component_prosody(tmp_path, kind):
    s = harness.SERVERS[kind](tmp_path)
    s.component_port = s.add_component(SERVICE, SECRET)
    return s.start()


def component_bot(prosody, tmp_path, user_jids=False, db=None, name="starling"):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    config = """xmpp: { mode = "component"; };
component: {
  domain = "%s";
  secret = "%s";
  host = "127.0.0.1";
  port = %d;
  user_jids = %s;
};
storage: { path = "%s"; };
bot: { admins = [ "admin@%s" ]; posts_per_minute = 100; };
log: { level = "info"; };
""" % (SERVICE, SECRET, prosody.component_port,
       "true" if user_jids else "false", db or str(d / "starling.db"),
       harness.DOMAIN)
    return harness.Bot(prosody, tmp_path, config=config, name=name)


def wait_greeted(b, n, timeout=15):
    """Until the bot has greeted n subscribers after its last start (the
    server routes to a component a moment after its handshake)."""
    deadline = time.time() + timeout
    while "greeted %d subscribers" % n not in b.read_log().split("started for")[-1]:
        assert time.time() < deadline, "no greeting of %d subscribers" % n
        time.sleep(0.1)
    time.sleep(0.5)


def join(prosody, name):
    c = harness.Client(prosody, name).connect()
    c.subscribe(to=SERVICE)
    c.wait("Welcome to Starling", timeout=15)
    return c


def ask(c, text, to=SERVICE, match=None):
    """Send text to the service, return the answer (not an update)."""
    c.send(text, to=to)
    return c.wait(lambda m: not harness.is_update(m) and
                  (match is None or match in (m["body"] or "")))["body"]


def test_subscribe_follow_post_and_presence_rules(tmp_path, clients, kind):
    prosody = component_prosody(tmp_path, kind)
    b = component_bot(prosody, tmp_path).start()
    try:
        alice, bob = join(prosody, "alice"), join(prosody, "bob")
        clients.extend([alice, bob])
        # The bot approved and asked back: both see it online.
        bob.wait_online(SERVICE)
        assert ask(bob, "follow alice") == "You now follow alice."
        assert ask(alice, "hello from a component") == "Posted #1."
        m = bob.wait("hello from a component")
        assert m["frm"].split("/")[0] == SERVICE
        assert harness.is_update(m)
        # dnd: held, then handed over with its time.
        bob.presence("dnd")
        time.sleep(0.5)
        assert ask(alice, "while you were busy") == "Posted #2."
        assert [x for x in bob.drain(1.0) if "busy" in (x["body"] or "")] == []
        bob.presence("chat")
        assert bob.wait("while you were busy")["delay"] is not None
        # Removing the bot makes you inactive, as in client mode.
        bob.unsubscribe(to=SERVICE)
        time.sleep(0.5)
        assert ask(alice, "nobody hears") == "Posted #3."
        assert [x for x in bob.drain(1.0) if "nobody" in (x["body"] or "")] == []
    finally:
        assert b.stop() == 0
        prosody.stop()


def test_restart_greets_subscribers_and_delivers_what_was_held(tmp_path, clients, kind):
    prosody = component_prosody(tmp_path, kind)
    b = component_bot(prosody, tmp_path).start()
    try:
        alice, bob = join(prosody, "alice"), join(prosody, "bob")
        clients.extend([alice, bob])
        assert ask(bob, "follow alice") == "You now follow alice."
        b.stop()
        # While the bot is down bob stays online; nobody tells the bot.
        b.start()
        # The bot greets and probes its subscribers: bob's presence comes
        # back by itself, and a post reaches him without any help.
        wait_greeted(b, 2)
        assert ask(alice, "after the restart") == "Posted #1."
        bob.wait("after the restart", timeout=15)
    finally:
        assert b.stop() == 0
        prosody.stop()


def test_per_user_addresses(tmp_path, clients, kind):
    prosody = component_prosody(tmp_path, kind)
    b = component_bot(prosody, tmp_path, user_jids=True).start()
    alice_jid = "alice@" + SERVICE
    try:
        alice, bob = join(prosody, "alice"), join(prosody, "bob")
        clients.extend([alice, bob])
        assert ask(alice, "bio I grow tomatoes") == "Bio updated."
        # Adding alice@updates.localhost follows alice.
        bob.subscribe(to=alice_jid)
        deadline = time.time() + 10
        while time.time() < deadline and "alice" not in ask(bob, "following"):
            time.sleep(0.3)
        assert "alice" in ask(bob, "following")
        # Its presence is available, with alice's bio as status.
        bob.wait_online(alice_jid)
        # alice's updates come from her own address.
        assert ask(alice, "tomatoes are ripe") == "Posted #1."
        m = bob.wait("tomatoes are ripe")
        assert m["frm"].split("/")[0] == alice_jid
        # Writing to alice@updates.localhost is a private message to her.
        assert ask(alice, "follow bob") == "You now follow bob."
        bob.send("can I have some?", to=alice_jid)
        got = alice.wait("can I have some?")
        assert got["body"] == "DM from bob: can I have some?"
        assert got["frm"].split("/")[0] == "bob@" + SERVICE
        # A new nick moves the address: bob is told from the old one, and
        # the new one asks to be added; updates come from it from then on.
        ally_jid = "ally@" + SERVICE
        assert ask(alice, "nick ally") == "You are now ally."
        m = bob.wait("alice is now ally")
        assert m["frm"].split("/")[0] == alice_jid
        assert ally_jid in m["body"]
        bob.subscribe(to=ally_jid)
        bob.wait_online(ally_jid)
        assert ask(alice, "new name, same tomatoes").startswith("Posted #")
        m = bob.wait("same tomatoes")
        assert m["frm"].split("/")[0] == ally_jid
        # Removing the contact unfollows.
        bob.unsubscribe(to=ally_jid)
        deadline = time.time() + 10
        while time.time() < deadline and "ally" in ask(bob, "following"):
            time.sleep(0.3)
        assert "ally" not in ask(bob, "following")
    finally:
        assert b.stop() == 0
        prosody.stop()


def test_client_mode_store_moves_to_component_mode(tmp_path, clients, kind):
    prosody = component_prosody(tmp_path, kind)
    # A client-mode bot first: alice and bob join it, bob follows alice.
    client_bot = harness.Bot(prosody, tmp_path, name="client",
                             bot_section="posts_per_minute = 100;").start()
    alice = harness.join(prosody, "alice")
    bob = harness.join(prosody, "bob")
    clients.extend([alice, bob])
    assert bob.ask("follow alice") == "You now follow alice."
    client_bot.stop()
    # The same store, now a component: each user is asked to add the new
    # address (their client approves), and gets updates from it.
    b = component_bot(prosody, tmp_path, db=client_bot.db).start()
    try:
        wait_greeted(b, 2)
        bob.wait_online(SERVICE, timeout=15)
        assert ask(alice, "moved!") == "Posted #1."
        m = bob.wait("moved!", timeout=15)
        assert m["frm"].split("/")[0] == SERVICE
    finally:
        assert b.stop() == 0
        prosody.stop()


def test_greeting_many_subscribers_is_paced(tmp_path):
    """At start the bot greets every subscriber (presence, subscription
    request, probe: three stanzas each) only as fast as the server takes
    them.  Greeted all at once, 10,000 subscribers cost the bot ~60 MiB
    of queued stanzas (100,000 half a gigabyte), and the server's answer to
    its keep-alive ping waits behind all of them."""
    import sqlite3
    prosody = component_prosody(tmp_path, "prosody")
    b = component_bot(prosody, tmp_path).start()
    b.stop()
    n = 10000
    con = sqlite3.connect(b.db)
    with con:
        con.executemany("INSERT INTO users (jid, nick, created) VALUES (?, ?, 1)",
                        (("g%d@%s" % (i, harness.DOMAIN), "g%d" % i) for i in range(n)))
    con.close()
    try:
        b.start()
        wait_greeted(b, n, timeout=300)
        with open("/proc/%d/status" % b.proc.pid) as f:
            peak = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
        # Under valgrind the process is valgrind's, with its own memory.
        if not os.environ.get("STARLING_VALGRIND"):
            assert peak < 32 * 1024, "peak RSS %d KiB while greeting %d subscribers" % (peak, n)
    finally:
        assert b.stop() == 0
        prosody.stop()
