"""A good XMPP citizen (SPEC 7): disco, version, ping, unknown IQs, and
message types it must never answer (OTR openers: test_clients.py)."""
import pytest

import harness


@pytest.mark.core
def test_disco_identity_and_features(user):
    alice = user("alice")
    info = alice.iq("disco")
    assert ("client", "bot", None, "Starling") in info["identities"]
    for f in ("http://jabber.org/protocol/disco#info", "jabber:iq:version",
              "urn:xmpp:ping"):
        assert f in info["features"]


def test_version_and_ping(user):
    alice = user("alice")
    v = alice.iq("version")
    assert v["name"] == "Starling" and v["version"]
    assert alice.iq("ping") is not None


def test_unknown_iq_is_service_unavailable(user):
    alice = user("alice")
    assert alice.iq("unknown") == "error:service-unavailable"


@pytest.mark.core
def test_ignored_message_types(user):
    alice = user("alice")
    # To the bare JID and to the bot's resource: servers deliver only
    # some types to a bare JID (RFC 6121 8.5.2: ejabberd bounces a
    # groupchat with an error, drops an error), all to a full JID.
    for to in (harness.BOT, harness.BOT + "/starling"):
        for mtype in ("error", "groupchat", "headline"):
            alice.send("help", to=to, mtype=mtype)
    alice.send_raw("<message to='bot@localhost' type='chat'><subject>x</subject></message>")
    alice.send_raw("<message to='bot@localhost' type='chat'><body></body></message>")
    alice.send("[Auto-reply] I am on holiday")
    # The server's bounce comes from the bare JID; the bot's own
    # messages come from its resource.
    assert [m for m in alice.drain(1.5)
            if not (m["type"] == "error" and m["frm"] == harness.BOT)] == []
    # Nothing of that was posted, and the bot still answers.
    assert "Nothing yet." in alice.ask("last")
