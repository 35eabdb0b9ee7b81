"""A good XMPP citizen (SPEC 7): disco, version, ping, unknown IQs, and
message types it must never answer (OTR openers: test_clients.py)."""


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


def test_ignored_message_types(user):
    alice = user("alice")
    for mtype in ("error", "groupchat", "headline"):
        alice.send("help", mtype=mtype)
    alice.send_raw("<message to='bot@localhost' type='chat'><subject>x</subject></message>")
    alice.send_raw("<message to='bot@localhost' type='chat'><body></body></message>")
    alice.send("[Auto-reply] I am on holiday")
    assert alice.drain(1.5) == []
    # Nothing of that was posted, and the bot still answers.
    assert "Nothing yet." in alice.ask("last")
