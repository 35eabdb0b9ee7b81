"""Presence-filtered delivery (SPEC 6): now, held, handed over later with
its original time, backlog summary, on/off, several resources."""
import time

import pytest

import harness


def post_and_confirm(c, text):
    assert c.ask(text).startswith("Posted #")


def no_update(c, text, seconds=1.0):
    return [m for m in c.drain(seconds) if text in (m["body"] or "")] == []


def test_available_and_chat_receive_now(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    bob.presence("chat")
    time.sleep(0.3)
    post_and_confirm(alice, "now please")
    m = bob.wait("now please")
    assert m["delay"] is None
    assert harness.is_update(m)


@pytest.mark.core
def test_away_held_unless_away_on(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    bob.presence("away")
    time.sleep(0.3)
    post_and_confirm(alice, "while away")
    assert no_update(bob, "while away")
    # Back: the held update arrives, stamped with its original time.
    bob.presence(None)
    m = bob.wait("while away")
    assert m["delay"] is not None
    assert bob.ask("away on") == "Updates will reach you while you are away."
    bob.presence("xa")
    time.sleep(0.3)
    post_and_confirm(alice, "reaches xa")
    assert bob.wait("reaches xa")["delay"] is None
    assert bob.ask("away off") == "Updates will wait while you are away."
    assert bob.ask("away") == "Usage: away on|off"


@pytest.mark.core
def test_dnd_held_then_delivered_in_order(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    bob.presence("dnd")
    time.sleep(0.3)
    for i in range(3):
        post_and_confirm(alice, "busy %d" % i)
    assert no_update(bob, "busy")
    bob.presence("chat")
    got = [bob.wait("busy %d" % i)["body"] for i in range(3)]
    assert got == ["alice: busy %d (#%d)" % (i, i + 1) for i in range(3)]


@pytest.mark.core
def test_offline_follower_gets_backlog_with_summary(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, delivery="backlog_max = 3;",
                    bot_section="posts_per_minute = 100;").start()
    try:
        alice = harness.join(prosody, "alice")
        bob = harness.join(prosody, "bob")
        clients.extend([alice, bob])
        bob.ask("follow alice")
        bob.disconnect()
        time.sleep(0.5)
        for i in range(5):
            post_and_confirm(alice, "held %d" % i)
        bob = harness.Client(prosody, "bob", create=False).connect()
        clients.append(bob)
        first = bob.wait(lambda m: harness.is_update(m) or "left out" in (m["body"] or ""))
        assert "2 older updates from people you follow were left out" in first["body"]
        got = [bob.wait("held %d" % i) for i in (2, 3, 4)]
        assert all(m["delay"] is not None for m in got)
        assert no_update(bob, "held 0") and no_update(bob, "held 1", 0.2)
        # The dropped ones stay readable.
        assert "held 0" in bob.ask("last alice 5")
    finally:
        assert b.stop() == 0


def test_backlog_never_drops_dms_mentions_or_replies(prosody, tmp_path, clients):
    """Issue 12, item 2: beyond backlog_max only ordinary updates from
    people one follows are summarised away; a DM, a mention and a reply to
    you are handed over whatever else was held."""
    b = harness.Bot(prosody, tmp_path, delivery="backlog_max = 2;",
                    bot_section="posts_per_minute = 100;").start()
    try:
        alice = harness.join(prosody, "alice")
        bob = harness.join(prosody, "bob")
        clients.extend([alice, bob])
        bob.ask("follow alice")
        alice.ask("follow bob")
        mine = bob.ask("my own thoughts").split("#")[1].rstrip(".")
        bob.disconnect()
        time.sleep(0.5)
        post_and_confirm(alice, "chatter 0")
        assert alice.ask("d bob a private word").startswith("Sent")
        post_and_confirm(alice, "hey @bob, look")
        assert alice.ask("#%s I disagree" % mine).startswith("Replied")
        for i in range(1, 6):
            post_and_confirm(alice, "chatter %d" % i)
        bob = harness.Client(prosody, "bob", create=False).connect()
        clients.append(bob)
        first = bob.wait(lambda m: harness.is_update(m))
        assert "4 older updates from people you follow were left out" in first["body"]
        for text in ("a private word", "hey @bob", "I disagree", "chatter 4", "chatter 5"):
            bob.wait(text)
        assert no_update(bob, "chatter 3", 0.5)
    finally:
        assert b.stop() == 0


def test_off_holds_nothing_and_on_resumes(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    assert bob.ask("off").startswith("Deliveries off")
    post_and_confirm(alice, "unheard")
    assert no_update(bob, "unheard")
    assert bob.ask("on") == "Deliveries on."
    assert no_update(bob, "unheard", 0.5)
    post_and_confirm(alice, "heard")
    bob.wait("heard")


@pytest.mark.core
def test_best_resource_counts(user, prosody, clients):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    bob.presence("dnd", priority=5)
    # A second resource of bob, available but with a negative priority.
    second = harness.Client(prosody, "bob", create=False).connect(presence=False)
    clients.append(second)
    second.presence(None, priority=-1)
    time.sleep(0.3)
    post_and_confirm(alice, "not yet")
    assert no_update(bob, "not yet")
    second.presence("chat", priority=0)
    bob.wait("not yet")


@pytest.mark.core
def test_held_updates_survive_bot_restart(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section="posts_per_minute = 100;").start()
    alice = harness.join(prosody, "alice")
    bob = harness.join(prosody, "bob")
    clients.extend([alice, bob])
    bob.ask("follow alice")
    bob.disconnect()
    time.sleep(0.3)
    for i in range(15):
        post_and_confirm(alice, "kept %d" % i)
    b.kill9()
    b.start()
    bob = harness.Client(prosody, "bob", create=False).connect()
    clients.append(bob)
    bodies = []
    for i in range(15):
        bodies.append(bob.wait("kept %d" % i, timeout=15)["body"])
    assert len(set(bodies)) == 15
    assert no_update(bob, "kept", 1.5)  # nothing twice
    assert b.stop() == 0
