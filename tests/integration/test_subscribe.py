"""Becoming a user (SPEC 3): subscribe, welcome, strangers, leaving."""
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
