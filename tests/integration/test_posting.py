"""Posting (SPEC 4): confirmation after commit, refusals that store
nothing, rate limit, de-duplication by stanza id, near-miss commands that
are never posted (SPEC 5)."""
import pytest

import harness


@pytest.mark.core
def test_post_is_confirmed_and_readable(user):
    alice = user("alice")
    assert alice.ask("Hello, world!") == "Posted #1."
    assert alice.ask("  trimmed  ") == "Posted #2."
    assert "#2 alice: trimmed" in harness.unstamp(alice.ask("last"))
    # "post TEXT" posts even what reads like a command.
    assert alice.ask("post help") == "Posted #3."
    assert "#3 alice: help" in harness.unstamp(alice.ask("show #3"))
    assert alice.ask("post") == "Usage: post TEXT"


def test_refused_posts_store_nothing(user):
    alice = user("alice")
    assert "empty" in alice.ask("   ")
    assert "too long" in alice.ask("x" * 501)
    # 500 characters (code points, not bytes) is fine.
    assert alice.ask("\u00e9" * 500) == "Posted #1."
    # XML cannot carry most C0 controls; DEL and C1 controls it can.
    assert "control characters" in alice.ask("del\x7f here")
    assert "control characters" in alice.ask("csi \u009b31m red")
    body = alice.ask("last")
    assert body.count("#") == 1 and "#1 alice" in body


def test_rate_limit(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section="posts_per_minute = 3;").start()
    try:
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        for i in range(3):
            assert alice.ask("post %d" % i) == "Posted #%d." % (i + 1)
        assert "too fast" in alice.ask("one too many")
        assert "one too many" not in alice.ask("last")
    finally:
        assert b.stop() == 0


@pytest.mark.core
def test_same_stanza_id_is_stored_once(user):
    alice = user("alice")
    alice.send("resent after a resumption", id="fixed-id-1")
    assert alice.wait("Posted")["body"] == "Posted #1."
    alice.send("resent after a resumption", id="fixed-id-1")
    assert alice.wait("Posted")["body"] == "Posted #1."
    alice.send("a new message", id="fixed-id-2")
    assert alice.wait("Posted")["body"] == "Posted #2."
    assert alice.ask("last").count("resent after") == 1


def test_near_miss_commands_are_never_posted(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow alice") == "You now follow alice."
    assert alice.ask("first") == "Posted #1."
    bob.wait("first")
    hint = " (to post this text, send: post TEXT)"
    assert alice.ask("delete #1 please") == "Usage: delete #N" + hint
    assert alice.ask("show #1 now") == "Usage: show #N" + hint
    assert alice.ask("reply to everyone") == "Usage: reply #N TEXT" + hint
    assert alice.ask("stats please") == "Not permitted."
    assert alice.ask("?").startswith("Send any text to post it.")
    assert alice.ask("help?").startswith("Send any text to post it.")
    # Nothing reached the follower, nothing was stored or deleted.
    assert not [m for m in bob.drain(1.5) if harness.is_update(m)]
    assert alice.ask("last") == "#1 alice · now: first"
    # The hint works; other keywords still read as posts.
    assert alice.ask("post delete #1 please") == "Posted #2."
    assert alice.ask("on my way") == "Posted #3."
    assert "delete #1 please" in bob.wait("delete #1 please")["body"]
