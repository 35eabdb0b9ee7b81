"""Following, mentions, blocks (SPEC 5 and 6)."""
import time

import pytest

from harness import unstamp


def test_follow_unfollow_and_lists(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow @Alice") == "You now follow alice."
    assert bob.ask("follow alice") == "You already follow alice."
    assert bob.ask("follow bob") == "You can't follow yourself."
    assert bob.ask("follow nobody") == "No user nobody."
    assert bob.ask("follow") == "Usage: follow NICK [digest]"
    assert bob.ask("follow bad-nick") == "Usage: follow NICK [digest]"
    assert unstamp(alice.ask("followers")) == "Followers (1):\nbob"
    assert unstamp(bob.ask("following")) == "Following (1):\nalice"
    assert alice.ask("following") == "You follow nobody yet."
    assert bob.ask("unfollow alice") == "You no longer follow alice."
    assert bob.ask("unfollow alice") == "You don't follow alice."
    assert bob.ask("unfollow") == "Usage: unfollow NICK"


@pytest.mark.core
def test_follower_gets_post_and_non_follower_does_not(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    bob.ask("follow alice")
    assert alice.ask("the first update") == "Posted #1."
    m = bob.wait("the first update")
    assert m["body"] == "alice: the first update (#1)"
    assert m["type"] == "chat"
    assert "alice@localhost" not in m["body"]
    assert [x for x in carol.drain(1.0) if "first update" in (x["body"] or "")] == []


def test_mention_reaches_non_follower(user):
    alice, carol = user("alice"), user("carol")
    alice.ask("hey @carol, look at this")
    assert "hey @carol" in carol.wait("look at this")["body"]
    assert "#1 alice: hey @carol" in unstamp(carol.ask("mentions"))
    assert alice.ask("mentions") == "Nobody mentioned you yet."


def test_block_stops_posts_mentions_and_follows(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    assert alice.ask("block bob") == "bob can no longer follow, mention or message you."
    assert alice.ask("block bob") == "You already block bob."
    assert alice.ask("block") == "Usage: block NICK"
    # bob's follow was removed and cannot come back.
    assert alice.ask("followers") == "No followers yet."
    assert bob.ask("follow alice") == "You can't follow alice."
    # bob's mention does not reach alice.
    bob.ask("hello @alice")
    assert [m for m in alice.drain(1.0) if "hello @alice" in (m["body"] or "")] == []
    assert alice.ask("mentions") == "Nobody mentioned you yet."
    assert alice.ask("unblock bob") == "You no longer block bob."
    assert alice.ask("unblock bob") == "You don't block bob."
    assert bob.ask("follow alice") == "You now follow alice."


def test_blocked_authors_post_does_not_reach_blocker(user):
    alice, bob = user("alice"), user("bob")
    alice.ask("follow bob")
    alice.ask("track gardening")
    alice.ask("block bob")
    bob.ask("gardening tips from bob")
    assert [m for m in alice.drain(1.5) if "gardening tips" in (m["body"] or "")] == []
