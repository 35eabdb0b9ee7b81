"""Becoming a user (SPEC 3): subscribe, welcome, strangers, leaving,
reserved nicks, and the roster reconciled at every login."""
import sqlite3
import time

import pytest

import harness


@pytest.mark.core
def test_subscribe_gives_both_and_a_welcome(user):
    alice = user("alice", welcome=False)
    m = alice.wait("Welcome to Starling", timeout=15)
    # The welcome names three commands to start with.
    for cmd in ("follow NICK", "last", "help"):
        assert cmd in m["body"]
    deadline = time.time() + 10
    while alice.subscription() != "both" and time.time() < deadline:
        time.sleep(0.1)
    assert alice.subscription() == "both"


def test_nick_from_jid_made_unique(user):
    first = user("d.ave")
    second = user("dave")
    # "d.ave" reduces to "dave"; the second "dave" gets a number.
    assert "You are" not in first.ask("whois dave", "joined")
    assert "joined" in second.ask("whois dave2", "joined")
    assert "No user" in second.ask("whois d_ave", "No user")


def test_help_is_answered(user):
    alice = user("alice")
    body = alice.ask("help")
    assert "follow NICK" in body and "last" in body
    assert "follow NICK" in alice.ask("HELP follow")
    assert alice.ask("help frobnicate") == "No command frobnicate. Send help for the list."
    # Admin commands are not advertised to users.
    assert "broadcast" not in body and "No command" in alice.ask("help ban")


@pytest.mark.core
def test_stranger_gets_one_short_reply(bot, client):
    eve = client("eve")
    eve.send("hello there")
    m = eve.wait(timeout=10)
    assert "Add me" in m["body"] and len(m["body"]) < 120
    assert eve.drain(1.0) == []
    # Nothing was stored: eve is no user.
    alice_view = m["body"]
    assert "Posted" not in alice_view


@pytest.mark.core
def test_unsubscribe_makes_inactive(user):
    alice = user("alice")
    bob = user("bob")
    assert "now follow alice" in bob.ask("follow alice")
    bob.unsubscribe()
    time.sleep(0.5)
    assert "Posted" in alice.ask("anyone there?")
    # bob is inactive: nothing is delivered to him.
    assert [m for m in bob.drain(1.5) if "anyone there" in (m["body"] or "")] == []


def test_reserved_nicks(user):
    """Issue 12 item 10: service names are neither given at join nor
    taken with nick."""
    root = user("root")
    assert root.ask("whois root2").startswith("root2, joined")
    assert root.ask("whois root") == "No user root."
    assert root.ask("nick starling") == "The nick starling is reserved."
    assert root.ask("nick announcement") == "The nick announcement is reserved."
    # The bot's own local part (the bot is bot@localhost).
    assert root.ask("nick bot") == "The nick bot is reserved."
    assert root.ask("nick rooty") == "You are now rooty."


def active(bot, jid):
    con = sqlite3.connect(bot.db)
    try:
        row = con.execute("SELECT active FROM users WHERE jid = ?", (jid,)).fetchone()
        return None if row is None else bool(row[0])
    finally:
        con.close()


def test_roster_reconciled_at_login(prosody, bot, user, clients):
    """Issue 12 item 9: what changed in the bot's roster on the server
    while the bot was down counts at its next login, both ways."""
    alice, bob = user("alice"), user("bob")
    assert "now follow alice" in bob.ask("follow alice")
    bot.stop()
    for c in (alice, bob):
        c.disconnect()
    prosody.stop()
    # alice is gone from the bot's roster; carol subscribed meanwhile.
    prosody.add_user("carol")
    prosody.set_roster("bot", {"bob@localhost": "both",
                               "carol@localhost": "from",
                               "dan@localhost": "none"})
    prosody.start()
    carol = harness.Client(prosody, "carol").connect()
    clients.append(carol)
    bot.notifications = []
    bot.start()
    carol.wait("Welcome to Starling", timeout=15)
    assert active(bot, "alice@localhost") is False
    assert active(bot, "bob@localhost") is True
    assert active(bot, "dan@localhost") is None
    assert "roster reconciled: 3 contacts, 1 users left, 1 joined" in bot.read_log()
    alice = harness.Client(prosody, "alice").connect()
    clients.append(alice)
    assert "Add me" in alice.ask("hello")
    bob = harness.Client(prosody, "bob").connect()
    clients.append(bob)
    assert "Commands" in bob.ask("help", "Commands")
    # Nothing changes at the next login.
    bot.restart()
    assert "roster reconciled: 3 contacts, 0 users left, 0 joined" in bot.read_log()
