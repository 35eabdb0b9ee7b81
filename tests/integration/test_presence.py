"""Presence as the bot reads it (SPEC 6, issue 12 item 10): a presence
error from a contact counts as that contact gone, every resource of it;
held updates come back stamped by the bot itself (XEP-0203 <delay/>
from = the bot's JID, not the server's)."""
import harness

ERROR = ("<presence to='%s' type='error'><error type='cancel'>"
         "<remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
         "</error></presence>" % harness.BOT)


def delays(c):
    """(body, delay from) of every message c receives from now on."""
    got = []

    def on_message(m):
        d = m.xml.find("{urn:xmpp:delay}delay")
        got.append((m["body"], d.get("from") if d is not None else None))
    c._call(c.xmpp.add_event_handler, "message", on_message)
    return got


def test_presence_error_is_offline_and_held_updates_come_from_the_bot(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow alice") == "You now follow alice."
    got = delays(bob)
    # Online: an update goes out at once, without <delay/>.
    assert alice.ask("while bob is here").startswith("Posted #")
    assert bob.wait("while bob is here")["delay"] is None
    # A presence error from bob (its stream is still up, its presence
    # still available): bob counts as offline.  The answer to a command
    # sent behind it shows that the bot has read it.
    bob.send_raw(ERROR)
    assert bob.ask("following").startswith("Following (1):\nalice")
    assert alice.ask("while bob errs").startswith("Posted #")
    assert not [m for m in bob.drain(1.5) if "while bob errs" in (m["body"] or "")]
    # Back: the held update, stamped with its time, by the bot.
    bob.presence()
    m = bob.wait("while bob errs", timeout=15)
    assert m["delay"] is not None
    assert [f for b, f in got if b and "while bob errs" in b] == [harness.BOT]
