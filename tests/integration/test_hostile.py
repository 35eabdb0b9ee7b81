"""Hostile input (issue 6): whatever arrives, the bot stays up, keeps
answering, and changes nothing it should not.  Each case ends with a
"help" that must be answered, and the posts table checked where the input
must not have stored anything."""
import sqlite3
import time

import pytest

import harness


def posts(bot):
    con = sqlite3.connect(bot.db)
    try:
        return con.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        con.close()


def alive(c):
    assert "Commands" in c.ask("help", "Commands", timeout=15)


# (message, expected words in the reply) -- none of them may store a post.
REFUSED = [
    ("x" * 40000, "far too long"),                         # 40 kB body
    ("@a " * 5000, "too long"),                             # 5,000 mentions
    ("follow " + "a " * 5000, "too long"),                  # 5,000 arguments
    ("show #0", "Usage"),
    ("show #-1", "Usage"),
    ("show #18446744073709551616", "Usage"),
    ("show #9999999999999999999999", "Usage"),
    ("delete #1e3", "Usage"),
    ("reply #abc hello", "Usage"),
    ("last -5", "Usage"),
    ("last alice 0", "Usage"),
    ("follow @", "Usage"),
    ("follow al\u200bice", "Usage"),                       # zero-width space
    ("nick \u202eevil", "Usage"),                          # RTL override
    ("nick " + "a" * 1000, "Usage"),
    ("whois " + "a" * 1000, "Usage"),
    ("bio " + "b" * 10000, "too long"),
    ("del\x7f", "control characters"),
    ("\u0085next line", "control characters"),
    ("   \n\t  ", "empty"),
]


@pytest.mark.parametrize("text,reply", REFUSED, ids=range(len(REFUSED)))
def test_refused_and_nothing_stored(user, bot, text, reply):
    alice = user("alice")
    before = posts(bot)
    assert reply in alice.ask(text, timeout=30)  # 40 kB at 10 kB/s
    assert posts(bot) == before
    alive(alice)


STORED_VERBATIM = [
    "'; DROP TABLE posts; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "%s%s%s%n%x%p",
    "<script>alert(1)</script> &amp; &lt;",
    "\u202eevil\u202c and \u200b zero width",
    "NEAR(a b) OR c* AND ^d:e",
]


@pytest.mark.parametrize("text", STORED_VERBATIM, ids=range(len(STORED_VERBATIM)))
def test_payloads_are_just_text(user, bot, text):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    assert alice.ask(text).startswith("Posted #")
    assert bob.wait(lambda m: harness.is_update(m))["body"] == "alice: %s (#1)" % text
    assert alice.ask("#1") == "#1 alice: " + text
    # The tables are all still there and whole.
    assert posts(bot) == 1
    assert alice.ask("whois bob").startswith("bob")
    alive(alice)


def test_raw_garbage_and_deep_xml(user, bot, client):
    alice = user("alice")
    eve = client("eve")
    # Deeply nested and huge stanzas: the server may refuse them; either
    # way the bot must not care.
    eve.send_raw("<message to='bot@localhost' type='chat'><body>deep</body>"
                 + "<x xmlns='urn:x'>" * 500 + "</x>" * 500 + "</message>")
    eve.send_raw("<message to='bot@localhost' type='chat'><body>wide</body>"
                 + "".join("<y%d xmlns='urn:y'/>" % i for i in range(3000)) + "</message>")
    time.sleep(1.0)
    alive(alice)


@pytest.mark.core
def test_spoofed_from_is_ignored(user, bot):
    alice, bob = user("alice"), user("bob")
    # alice claims to be bob; the server stamps the real sender (Prosody)
    # or closes alice's stream (ejabberd).
    alice.send_raw("<message from='bob@localhost/x' to='bot@localhost' type='chat'>"
                   "<body>I am bob, honest</body></message>")
    time.sleep(1.0)
    con = sqlite3.connect(bot.db)
    by_bob = con.execute("SELECT count(*) FROM posts p JOIN users u "
                         "ON u.id = p.author WHERE u.nick = 'bob'").fetchone()[0]
    con.close()
    assert by_bob == 0
    assert "I am bob" not in bob.ask("last")
    alive(bob)


# Both servers throttle a client's stream (Prosody's mod_limits 10 kB/s,
# ejabberd's shaper 3 kB/s): exempt alice so that the flood reaches the
# bot at full speed.
@pytest.mark.server(unlimited=["alice@localhost"])
def test_presence_flood(user, bot):
    alice = user("alice")
    for i in range(1000):
        alice.presence("away" if i % 2 else "dnd", priority=i % 5)
    alice.presence(None)
    alive(alice)


def test_iq_flood(user, bot):
    alice = user("alice")
    for i in range(300):
        alice.send_raw("<iq type='get' to='bot@localhost/starling' id='f%d'>"
                       "<query xmlns='urn:example:unknown'/></iq>" % i)
    assert alice.iq("unknown") == "error:service-unavailable"
    alive(alice)


def test_subscription_flood_from_many_jids(prosody, bot, clients):
    crowd = harness.Crowd(prosody, ["s%d" % i for i in range(60)])
    try:
        crowd.connect()

        async def sub():
            for x in crowd.xmpp.values():
                x.send_presence(pto=harness.BOT, ptype="subscribe")
                x.send_presence(pto=harness.BOT, ptype="unsubscribe")
                x.send_presence(pto=harness.BOT, ptype="subscribe")
        crowd._run(sub())
        time.sleep(2.0)
    finally:
        crowd.disconnect()
    alice = harness.join(prosody, "alice")
    clients.append(alice)
    alive(alice)


def test_reply_budget_stops_reflection(user, bot):
    eve, alice = user("eve"), user("alice")
    for i in range(45):
        eve.send("help")
    got = eve.drain(3.0)
    warnings = [m for m in got if "too many messages" in (m["body"] or "")]
    answers = [m for m in got if "Commands" in (m["body"] or "")]
    assert len(warnings) == 1
    assert len(answers) <= 30
    assert eve.drain(1.0) == []
    # Others are not affected.
    alive(alice)


def test_changes_during_a_fanout(prosody, bot, user, clients):
    alice, bob = user("alice"), user("bob")
    followers = [user("f%d" % i) for i in range(5)]
    for f in followers + [bob]:
        f.ask("follow alice")
    # Delete, rename and unsubscribe while updates are on their way.
    alice.send("gone in a moment")
    alice.send("delete #1")
    alice.send("nick alicia")
    bob.unsubscribe()
    alice.send("second one")
    for answer in ("Posted #1.", "Deleted #1.", "You are now alicia.", "Posted #2."):
        alice.wait(answer, timeout=30)
    assert "No post #1." == alice.ask("#1")
    for f in followers:
        f.wait("second one", timeout=30)
    alive(alice)
    alive(followers[0])
