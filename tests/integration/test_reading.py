"""Reading, replying, deleting, profiles, tracking, search (SPEC 5)."""
import re

from harness import unstamp


def test_last_show_reply_delete(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    assert alice.ask("first") == "Posted #1."
    assert alice.ask("second") == "Posted #2."
    assert bob.ask("my own") == "Posted #3."
    last = bob.ask("last")
    assert unstamp(last) == "#3 bob: my own\n#2 alice: second\n#1 alice: first"
    # Every line says when (a slow run may make "now" a minute).
    assert len(re.findall(r"^#\d \w+ \u00b7 (now|\dm): ", last, re.M)) == 3
    assert unstamp(bob.ask("last 1")) == '#3 bob: my own\nSend "more" for more.'
    assert unstamp(bob.ask("last alice 1")) == '#2 alice: second\nSend "more" for more.'
    assert bob.ask("last alice 99") == "Usage: last [NICK|#tag] [N]"
    assert bob.ask("last nobody") == "No user nobody."
    # Replies: "reply #N TEXT" and "#N TEXT"; they reach the author.
    assert bob.ask("reply #1 nice") == "Replied to #1 as #4."
    assert "bob (re #1): nice (#4)" in alice.wait("nice")["body"]
    assert bob.ask("#1 again") == "Replied to #1 as #5."
    assert unstamp(bob.ask("show #1")) == "#1 alice: first\n#4 bob (re #1): nice\n#5 bob (re #1): again"
    assert re.match(r"#1 alice \u00b7 (now|\dm): first\n#4 bob \(re #1\) \u00b7 (now|\dm): nice",
                    bob.ask("show #1"))
    assert unstamp(bob.ask("#2")) == "#2 alice: second"
    assert bob.ask("#99") == "No post #99."
    assert bob.ask("show #0") == "Usage: show #N (to post this text, send: post TEXT)"
    assert bob.ask("reply #99 hm") == "No post #99."
    # Deleting: only your own.
    assert bob.ask("delete #1") == "You can only delete your own posts."
    assert alice.ask("delete #2") == "Deleted #2."
    assert alice.ask("#2") == "No post #2."
    assert alice.ask("delete #abc") == "Usage: delete #N (to post this text, send: post TEXT)"
    assert "second" not in bob.ask("last")


def test_profile_nick_bio_whois(user):
    alice, bob = user("alice"), user("bob")
    assert alice.ask("bio Gardener and XMPP fan") == "Bio updated."
    w = bob.ask("whois alice")
    assert w.startswith("alice - Gardener and XMPP fan, joined ")
    assert "0 posts, 0 followers, following 0." in w
    assert "alice@localhost" not in w
    assert "too long" in alice.ask("bio " + "x" * 161)
    assert alice.ask("nick bob") == "The nick bob is taken."
    assert alice.ask("nick Ally_1") == "You are now ally_1."
    assert bob.ask("whois alice") == "No user alice."
    assert bob.ask("whois ally_1").startswith("ally_1 - Gardener")
    assert alice.ask("nick b-a-d") == "Usage: nick NEW"
    assert alice.ask("whois") == "Usage: whois NICK"
    # "bio -" clears the bio.
    assert alice.ask("bio -") == "Bio cleared."
    assert bob.ask("whois ally_1").startswith("ally_1, joined ")
    assert alice.ask("bio") == "Usage: bio TEXT, or bio - to clear it"


def test_track_and_search(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("track Gardening") == "Tracking gardening: posts containing it will reach you."
    assert bob.ask("track gardening") == "You already track gardening."
    assert bob.ask("tracking") == "Tracking: gardening"
    assert bob.ask("track a-b") == "Usage: track WORD|#tag"
    alice.ask("Spring GARDENING is here")
    assert "Spring GARDENING" in bob.wait("Spring")["body"]
    assert bob.ask("untrack gardening") == "No longer tracking gardening."
    assert bob.ask("untrack gardening") == "You don't track gardening."
    assert bob.ask("tracking") == "You track nothing."
    alice.ask("winter is quiet")
    assert unstamp(bob.ask("search gardening")) == "#1 alice: Spring GARDENING is here"
    assert unstamp(bob.ask("search spring here")) == "#1 alice: Spring GARDENING is here"
    assert bob.ask("search nothing-like-this") == "Nothing found."
    assert bob.ask('search "unbalanced OR NEAR(') == "Nothing found."
    assert bob.ask("search") == "Usage: search WORDS"


def test_track_limit(user):
    bob = user("bob")
    for i in range(20):
        bob.send("track w%d" % i)
        bob.wait("Tracking w%d" % i)
    assert bob.ask("track w20") == "You can track at most 20 words."


def test_dm_only_to_followers(user):
    alice, bob = user("alice"), user("bob")
    assert alice.ask("d bob hi") == "You can only message people who follow you."
    bob.ask("follow alice")
    assert alice.ask("d bob psst, secret") == "Sent to bob."
    assert bob.wait("psst")["body"] == "DM from alice: psst, secret"
    assert alice.ask("dm @bob again") == "Sent to bob."
    assert bob.wait("again")["body"] == "DM from alice: again"
    assert alice.ask("d bob") == "Usage: d NICK TEXT"
    # DMs are not public.
    assert "psst" not in alice.ask("search psst")
    assert "psst" not in alice.ask("last")
