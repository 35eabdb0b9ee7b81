"""Threads and repeats (issue 15): a reply reaches everyone in the thread
unless they mute it; rt #N passes a post on once."""
import time

import harness


def number(answer):
    return answer.rstrip(".").split("#")[-1]


def test_thread_reaches_everyone_until_muted(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    root = number(alice.ask("who is coming tonight?"))
    r1 = number(bob.ask("#%s me!" % root))
    # carol follows nobody, yet her reply reaches alice (the thread's
    # start) and bob (who replied before).
    carol.ask("#%s me too" % r1)
    alice.wait("carol (re #%s): me too" % r1)
    bob.wait("carol (re #%s): me too" % r1)
    assert bob.ask("mute #%s" % root).startswith("Muted the thread")
    alice.ask("#%s great, see you" % root)
    carol.wait("great, see you")
    assert [m for m in bob.drain(1.0) if "great, see you" in (m["body"] or "")] == []


def test_repeat_once_and_author_told(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    carol.ask("follow bob")
    post = number(alice.ask("read this"))
    assert bob.ask("rt #%s" % post) == "Repeated #%s to your followers." % post
    m = carol.wait("bob repeated alice: read this")
    assert harness.is_update(m)
    alice.wait("bob repeated your #%s." % post)
    assert bob.ask("repeat #%s" % post) == "You already repeated #%s." % post
    time.sleep(0.5)
    assert [m for m in carol.drain(0.5) if "repeated" in (m["body"] or "")] == []
