"""Today's clients (SPEC 9), at the stanza level: what Conversations,
Gajim, Dino and Monal send, sent raw, and what they get back.

Encrypted messages are never posted and the sender is told once; receipts
are answered once a message is handled (after "Posted"); chat states and
markers alone get nothing; disco#info lists exactly what the bot handles
and its presence carries XEP-0115 caps that slixmpp's xep_0115 verifies,
the XEP-0172 nickname and the XEP-0153 avatar hash; the vCard carries the
avatar; updates carry their id as a XEP-0359 origin-id.  Corrections
edit the post and every copy, retractions delete it and retract the
copies, replies and reactions point at delivered updates; no fallback
body is ever posted.
"""
import asyncio
import base64
import copy
import hashlib
import os
import queue
import signal
import struct
import time
import xml.etree.ElementTree as ET
import zlib

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import harness

BOT = harness.BOT
BOT_FULL = BOT + "/starling"
NS_CLIENT = "{jabber:client}"
NICK = "{http://jabber.org/protocol/nick}nick"
CAPS = "{http://jabber.org/protocol/caps}c"
PHOTO = "{vcard-temp:x:update}x/{vcard-temp:x:update}photo"
VCARD = "{vcard-temp}vCard"
NO_ENCRYPTION = "I can't read encrypted messages"

FEATURES = {
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/caps",
    "jabber:iq:version",
    "urn:xmpp:ping",
    "urn:xmpp:delay",
    "urn:xmpp:receipts",
    "urn:xmpp:message-correct:0",
    "urn:xmpp:message-retract:1",
    "urn:xmpp:message-retract:0",
    "urn:xmpp:reply:0",
    "urn:xmpp:reactions:0",
    "urn:xmpp:sid:0",
    "vcard-temp",
    "http://jabber.org/protocol/nick",
    "http://jabber.org/protocol/commands",
    "jabber:x:data",
}

# Conversations' OMEMO message: payload, XEP-0380 marker, fallback body,
# receipt request, marker, origin-id.
OMEMO = """<message to='%s' type='chat' id='%s'>
<encrypted xmlns='eu.siacs.conversations.axolotl'>
<header sid='1509362066'><key rid='2111311005'>MwohBTTHhIn8nwkJYOTl</key>
<iv>1Qr5s/Ex7Ip0KfYH</iv></header>
<payload>8xaKXsqTt8C+0kbV</payload></encrypted>
<request xmlns='urn:xmpp:receipts'/>
<markable xmlns='urn:xmpp:chat-markers:0'/>
<origin-id xmlns='urn:xmpp:sid:0' id='%s'/>
<encryption xmlns='urn:xmpp:eme:0' name='OMEMO'
 namespace='eu.siacs.conversations.axolotl'/>
<body>I sent you an OMEMO encrypted message but your client doesn't seem
to support that. Find more information on https://conversations.im/omemo</body>
<store xmlns='urn:xmpp:hints'/>
</message>"""


def png(colour):
    """A valid 1x1 PNG of one RGB colour."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"\0" + bytes(colour)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Raw:
    """Every <message/> and <presence/> a client receives, as XML
    elements in arrival order."""

    def __init__(self, client):
        self.client = client
        self.q = queue.Queue()
        self.seen = []

        def on(stanza):
            self.q.put(copy.deepcopy(stanza.xml))

        def install():
            x = client.xmpp
            x.register_handler(Callback(
                "raw messages", MatchXPath(NS_CLIENT + "message"), on))
            x.register_handler(Callback(
                "raw presences", MatchXPath(NS_CLIENT + "presence"), on))
        client._call(install)

    def _pull(self, timeout):
        try:
            self.seen.append(self.q.get(timeout=timeout))
            return True
        except queue.Empty:
            return False

    def wait(self, pred, timeout=10):
        """The first stanza (seen before or arriving) matching pred."""
        deadline = time.time() + timeout
        i = 0
        while True:
            while i < len(self.seen):
                if pred(self.seen[i]):
                    return self.seen[i]
                i += 1
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no matching stanza within %s s; got %s" % (
                    timeout, [ET.tostring(e)[:200] for e in self.seen[-6:]]))
            self._pull(left)

    def drain(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._pull(max(0.01, deadline - time.time()))
        return self.seen

    def index(self, stanza):
        return next(i for i, e in enumerate(self.seen) if e is stanza)


def receipt_for(msg_id):
    def pred(e):
        r = e.find("{urn:xmpp:receipts}received")
        return e.tag == NS_CLIENT + "message" and r is not None and \
            r.get("id") == msg_id
    return pred


def body_has(text):
    def pred(e):
        b = e.find(NS_CLIENT + "body")
        return e.tag == NS_CLIENT + "message" and b is not None and \
            text in (b.text or "")
    return pred


def bot_presence(ptype=None):
    def pred(e):
        return e.tag == NS_CLIENT + "presence" and \
            e.get("from", "").startswith(BOT) and e.get("type") == ptype
    return pred


def receipts(raw):
    return [e for e in raw.seen
            if e.find("{urn:xmpp:receipts}received") is not None]


def vcard(client, to):
    """The vCard element the bot (full JID) or its server (bare) sends."""
    async def go():
        iq = client.xmpp.make_iq_get(ito=to)
        iq.append(ET.Element(VCARD))
        r = await iq.send(timeout=10)
        return r.xml.find(VCARD)
    return client._run(go())


def new_client(prosody, clients, name):
    """Connected, with raw capture installed before it subscribes."""
    c = harness.Client(prosody, name).connect()
    clients.append(c)
    return c, Raw(c)


def test_disco_lists_exactly_the_features(user):
    alice = user("alice")
    info = alice.iq("disco")
    assert set(info["identities"]) == {("client", "bot", None, "Starling")}
    assert set(info["features"]) == FEATURES


def test_caps_verified_by_slixmpp(prosody, bot, clients):
    carol, raw = new_client(prosody, clients, "carol")
    carol._call(carol.xmpp.register_plugin, "xep_0115")
    carol.subscribe()
    carol.wait("Welcome to Starling", timeout=15)
    pres = raw.wait(bot_presence())
    c = pres.find(CAPS)
    assert c is not None and c.get("hash") == "sha-1" and c.get("node")
    ver = c.get("ver")

    # slixmpp fetches disco#info for node#ver, recomputes the hash and
    # assigns it to the bot only when it matches.
    async def verified():
        return await carol.xmpp["xep_0115"].get_verstring(BOT_FULL)
    deadline = time.time() + 15
    while carol._run(verified()) != ver:
        assert time.time() < deadline, "slixmpp did not verify the caps " + ver
        time.sleep(0.1)

    # The node#ver query itself, and another node.
    async def info(node):
        r = await carol.xmpp["xep_0030"].get_info(jid=BOT_FULL, node=node,
                                                 timeout=10)
        return r["disco_info"]
    i = carol._run(info("%s#%s" % (c.get("node"), ver)))
    assert set(i["features"]) == FEATURES
    assert carol.xmpp["xep_0115"].generate_verstring(i, "sha-1") == ver
    try:
        carol._run(info("urn:example:no-such-node"))
        raise AssertionError("an unknown node was answered")
    except Exception as e:  # IqError
        assert "item-not-found" in str(e.iq["error"]["condition"])


def test_nickname_in_presence_and_subscription(prosody, bot, clients):
    dave, raw = new_client(prosody, clients, "dave")
    dave.subscribe()
    dave.wait("Welcome to Starling", timeout=15)
    sub = raw.wait(bot_presence("subscribe"))
    assert sub.find(NICK) is not None and sub.find(NICK).text == "Starling"
    pres = raw.wait(bot_presence())
    assert pres.find(NICK).text == "Starling"
    # No bot.avatar: an empty <photo/> says "no avatar" (XEP-0153).
    photo = pres.find(PHOTO)
    assert photo is not None and not (photo.text or "").strip()
    v = vcard(dave, BOT_FULL)
    assert v.find("{vcard-temp}NICKNAME").text == "Starling"
    assert v.find("{vcard-temp}PHOTO") is None


def test_avatar_vcard_and_reload(tmp_path, clients):
    # A server that stores vCards, as the bot's should (mod_vcard).
    p = harness.Prosody(tmp_path, extra='VirtualHost "localhost"\n'
                        '  modules_enabled = { "vcard" }\n').start()
    first, second = png((200, 40, 40)), png((40, 40, 200))
    avatar = os.path.join(str(tmp_path), "avatar.png")
    with open(avatar, "wb") as f:
        f.write(first)
    b = harness.Bot(p, tmp_path, bot_section='avatar = "%s";' % avatar).start()
    try:
        erin, raw = new_client(p, clients, "erin")
        erin.subscribe()
        erin.wait("Welcome to Starling", timeout=15)
        pres = raw.wait(bot_presence())
        assert pres.find(PHOTO).text == hashlib.sha1(first).hexdigest()
        # Asked of the bot itself, and of its server (where XEP-0153
        # clients ask): the same PNG.
        for to in (BOT_FULL, BOT):
            v = vcard(erin, to)
            assert v.find("{vcard-temp}NICKNAME").text == "Starling"
            assert v.find("{vcard-temp}PHOTO/{vcard-temp}TYPE").text == "image/png"
            binval = v.find("{vcard-temp}PHOTO/{vcard-temp}BINVAL").text
            assert base64.b64decode(binval) == first, to

        # SIGHUP with another image: a new presence, a new vCard.
        with open(avatar, "wb") as f:
            f.write(second)
        b.signal(signal.SIGHUP)
        new_hash = hashlib.sha1(second).hexdigest()
        raw.wait(lambda e: bot_presence()(e) and
                 e.find(PHOTO) is not None and e.find(PHOTO).text == new_hash,
                 timeout=15)
        binval = vcard(erin, BOT).find("{vcard-temp}PHOTO/{vcard-temp}BINVAL").text
        assert base64.b64decode(binval) == second
    finally:
        assert b.stop() == 0
        p.stop()


def test_receipts_after_posted_and_for_commands(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section="posts_per_minute = 1;").start()
    try:
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        raw = Raw(alice)
        # Gajim's plain message: body, receipt request, origin-id.
        alice.send_raw(
            "<message to='%s' type='chat' id='gajim-1'><body>Receipts please"
            "</body><request xmlns='urn:xmpp:receipts'/>"
            "<origin-id xmlns='urn:xmpp:sid:0' id='gajim-1'/></message>" % BOT)
        r = raw.wait(receipt_for("gajim-1"))
        posted = raw.wait(body_has("Posted #1."))
        assert raw.index(posted) < raw.index(r), "receipt before Posted"
        assert r.get("to") == alice.jid + "/" + alice.xmpp.boundjid.resource
        # A command is handled too.
        alice.send_raw(
            "<message to='%s' type='chat' id='gajim-2'><body>help</body>"
            "<request xmlns='urn:xmpp:receipts'/></message>" % BOT)
        raw.wait(receipt_for("gajim-2"))
        # A post refused by the rate limit was handled: received.
        alice.send_raw(
            "<message to='%s' type='chat' id='gajim-3'><body>one too many"
            "</body><request xmlns='urn:xmpp:receipts'/></message>" % BOT)
        r = raw.wait(receipt_for("gajim-3"))
        refused = raw.wait(body_has("too fast"))
        assert raw.index(refused) < raw.index(r)
        assert "one too many" not in alice.ask("last")
    finally:
        assert b.stop() == 0


def test_chat_states_and_markers_alone_get_nothing(user):
    alice = user("alice")
    raw = Raw(alice)
    for payload in (
            "<composing xmlns='http://jabber.org/protocol/chatstates'/>",
            "<paused xmlns='http://jabber.org/protocol/chatstates'/>",
            "<active xmlns='http://jabber.org/protocol/chatstates'/>"
            "<request xmlns='urn:xmpp:receipts'/>",
            "<displayed xmlns='urn:xmpp:chat-markers:0' id='starling-1-1'/>"
            "<store xmlns='urn:xmpp:hints'/>"):
        alice.send_raw("<message to='%s' type='chat' id='cs'>%s</message>"
                       % (BOT, payload))
    # Handled in order: once "last" is answered, the above were seen.
    assert "Nothing yet." in alice.ask("last")
    raw.drain(1.0)
    assert [e for e in raw.seen if e.tag == NS_CLIENT + "message"
            and not body_has("Nothing yet.")(e)] == []


def test_omemo_not_posted_and_told_once(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow alice") == "You now follow alice."
    raw = Raw(alice)
    alice.send_raw(OMEMO % (BOT, "omemo-1", "omemo-1"))
    assert NO_ENCRYPTION in alice.wait(NO_ENCRYPTION)["body"]
    raw.wait(receipt_for("omemo-1"))
    # The second one within the window: received, not told again.
    alice.send_raw(OMEMO % (BOT, "omemo-2", "omemo-2"))
    raw.wait(receipt_for("omemo-2"))
    assert "Nothing yet." in alice.ask("last")
    assert [m for m in alice.drain(1.0) if NO_ENCRYPTION in (m["body"] or "")] == []
    assert [m for m in bob.drain(1.0) if harness.is_update(m)] == []
    # An OTR opener is encryption too (same window: not told again).
    alice.send("?OTRv23?")
    assert "Nothing yet." in alice.ask("last")


def test_quoted_reply_from_a_client_without_replies(user):
    """A client without XEP-0461 quotes the update with "> ": that is a
    reply to it, and the quote is not posted."""
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    alice.ask("follow bob")
    assert alice.ask("Tea or coffee?") == "Posted #1."
    bob.wait("Tea or coffee?")
    bob.send("> alice: Tea or coffee? (#1)\nTea, always.")
    assert bob.wait("Replied")["body"] == "Replied to #1 as #2."
    assert alice.wait("Tea, always.")["body"] == "bob (re #1): Tea, always. (#2)"
    assert "Tea or coffee?" not in bob.ask("last bob")


def test_omemo_from_a_user_over_the_budget(user):
    """Over the message budget an encrypted message is dropped like any
    other: not posted, not answered, no receipt, nothing for followers."""
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow alice") == "You now follow alice."
    raw = Raw(alice)
    for _ in range(31):
        alice.send("tracking")
    alice.wait("too many messages", timeout=20)
    alice.send_raw(OMEMO % (BOT, "omemo-late", "omemo-late"))
    seen = raw.drain(3.0)
    assert not [e for e in seen if receipt_for("omemo-late")(e)]
    assert not [e for e in seen if body_has(NO_ENCRYPTION)(e)]
    assert [m for m in bob.drain(1.0) if harness.is_update(m)] == []
    assert "OMEMO" not in bob.ask("last alice")


GAJIM_RETRACT = (
    "<message to='%s' type='chat' id='%s'>"
    "<retract id='%s' xmlns='urn:xmpp:message-retract:1'/>"
    "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>"
    "<body>This person attempted to retract a previous message, but it's "
    "unsupported by your client.</body><store xmlns='urn:xmpp:hints'/>"
    "</message>")
FASTEN_RETRACT = (
    "<message to='%s' type='chat' id='%s'>"
    "<apply-to id='%s' xmlns='urn:xmpp:fasten:0'>"
    "<retract xmlns='urn:xmpp:message-retract:0'/></apply-to>"
    "<fallback xmlns='urn:xmpp:fallback:0'/>"
    "<body>This person attempted to retract a previous message, but it's "
    "unsupported by your client.</body></message>")
CONVERSATIONS_CORRECTION = (
    "<message to='%s' type='chat' id='%s'><body>%s</body>"
    "<replace id='%s' xmlns='urn:xmpp:message-correct:0'/>"
    "<origin-id xmlns='urn:xmpp:sid:0' id='%s'/></message>")
# A XEP-0461 reply as Gajim and Conversations send it: the quote of the
# message replied to, then the answer; the fallback marks the quote.
REPLY = (
    "<message to='%s' type='chat' id='%s'>"
    "<body>&gt; %s\n%s</body>"
    "<reply to='%s' id='%s' xmlns='urn:xmpp:reply:0'/>"
    "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>"
    "<body start='0' end='%d'/></fallback></message>")
REACTION = (
    "<message to='%s' type='chat' id='%s'>"
    "<reactions id='%s' xmlns='urn:xmpp:reactions:0'>"
    "<reaction>%s</reaction></reactions>"
    "<store xmlns='urn:xmpp:hints'/></message>")


def reply(to_id, quoted, text, msg_id="reply-1"):
    quote = "> " + quoted + "\n"
    return REPLY % (BOT, msg_id, quoted, text, BOT, to_id, len(quote))


def update_of(raw, text):
    """The update (a stanza from the bot with id starling-*) whose body
    has text."""
    return raw.wait(lambda e: e.tag == NS_CLIENT + "message" and
                    (e.get("id") or "").startswith("starling-") and
                    text in (e.findtext(NS_CLIENT + "body") or ""))


def test_updates_carry_their_id_as_origin_id(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("follow alice") == "You now follow alice."
    braw = Raw(bob)
    assert alice.ask("Hello, world!") == "Posted #1."
    update = update_of(braw, "Hello, world!")
    origin = update.find("{urn:xmpp:sid:0}origin-id")
    assert origin is not None and origin.get("id") == update.get("id")


def test_correction_edits_the_post_and_every_copy(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    bob.ask("follow alice")
    carol.ask("follow alice")
    carol.presence("dnd")  # carol's copy is held
    time.sleep(0.5)
    braw = Raw(bob)
    alice.send("Hello, wrold!", id="conv-1")
    assert alice.wait("Posted")["body"] == "Posted #1."
    first = update_of(braw, "wrold")
    alice.send_raw(CONVERSATIONS_CORRECTION % (
        BOT, "conv-2", "Hello, world!", "conv-1", "conv-2"))
    assert alice.wait("Edited")["body"] == "Edited #1."
    fixed = update_of(braw, "Hello, world!")
    # bob's client corrects the copy it has, in place.
    assert fixed.find("{urn:xmpp:message-correct:0}replace").get("id") == \
        first.get("id")
    assert fixed.findtext(NS_CLIENT + "body") == "alice: Hello, world! (#1)"
    # carol's held copy goes out with the new text, as a plain update.
    craw = Raw(carol)
    carol.presence("chat")
    held = update_of(craw, "Hello, world!")
    assert held.find("{urn:xmpp:message-correct:0}replace") is None
    assert "wrold" not in alice.ask("last")
    # Nothing new was posted.
    assert alice.ask("next one") == "Posted #2."


def test_correction_after_the_window_is_refused(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section="edit_minutes = 0;").start()
    try:
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        alice.send("tpyo", id="c-1")
        assert alice.wait("Posted")["body"] == "Posted #1."
        time.sleep(1.1)
        alice.send_raw(CONVERSATIONS_CORRECTION % (BOT, "c-2", "typo", "c-1", "c-2"))
        assert "Too late to correct #1" in alice.wait("Too late")["body"]
        assert "#1 alice · now: tpyo" in alice.ask("last")
    finally:
        assert b.stop() == 0


def test_correcting_a_command_runs_the_corrected_one(user):
    alice, bob = user("alice"), user("bob")
    alice.send("follow bbo", id="cmd-1")
    assert alice.wait("No user")["body"] == "No user bbo."
    alice.send_raw(CONVERSATIONS_CORRECTION % (
        BOT, "cmd-2", "follow bob", "cmd-1", "cmd-2"))
    assert alice.wait("follow")["body"] == "You now follow bob."
    assert "Nothing yet." in alice.ask("last")


def test_retraction_of_a_post_still_held_for_some(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    bob.ask("follow alice")
    carol.ask("follow alice")
    carol.presence("dnd")
    time.sleep(0.5)
    braw = Raw(bob)
    alice.send("I regret this", id="gajim-1")
    assert alice.wait("Posted")["body"] == "Posted #1."
    copy_ = update_of(braw, "I regret this")
    # Someone who is not the author cannot retract it.
    bob.send_raw(GAJIM_RETRACT % (BOT, "bob-r", copy_.get("id")))
    assert "not a post of yours" in bob.wait("not a post of yours")["body"]
    assert "I regret this" in bob.ask("show #1")
    # Gajim's retraction from the author deletes it...
    alice.send_raw(GAJIM_RETRACT % (BOT, "gajim-r", "gajim-1"))
    assert alice.wait("Deleted")["body"] == "Deleted #1."
    # ...bob's client retracts its copy (both forms in one stanza)...
    r = braw.wait(lambda e: e.find("{urn:xmpp:message-retract:1}retract") is not None)
    assert r.find("{urn:xmpp:message-retract:1}retract").get("id") == copy_.get("id")
    assert r.find("{urn:xmpp:fasten:0}apply-to").get("id") == copy_.get("id")
    # ...and carol's held copy is dropped.
    carol.presence("chat")
    assert [m for m in carol.drain(1.5) if "regret" in (m["body"] or "")] == []
    assert alice.ask("show #1") == "No post #1."
    # The older fasten form is understood too; the fallback never posted.
    alice.send("second thoughts", id="old-1")
    assert alice.wait("Posted")["body"] == "Posted #2."
    alice.send_raw(FASTEN_RETRACT % (BOT, "old-r", "old-1"))
    assert alice.wait("Deleted")["body"] == "Deleted #2."
    assert "attempted to retract" not in alice.ask("last alice")


def test_native_reply_and_reply_to_a_deleted_update(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    alice.ask("follow bob")
    braw = Raw(bob)
    assert alice.ask("Tea or coffee?") == "Posted #1."
    u = update_of(braw, "Tea or coffee?")
    bob.send_raw(reply(u.get("id"), "alice: Tea or coffee? (#1)", "Tea, always."))
    assert bob.wait("Replied")["body"] == "Replied to #1 as #2."
    got = alice.wait("Tea, always.")
    assert got["body"] == "bob (re #1): Tea, always. (#2)"
    assert alice.ask("delete #1") == "Deleted #1."
    bob.send_raw(reply(u.get("id"), "alice: Tea or coffee? (#1)", "Coffee!",
                       msg_id="reply-2"))
    assert bob.wait("No post")["body"] == "No post #1. Nothing was posted."
    assert "Coffee" not in bob.ask("last bob")


def test_reaction_reaches_the_author_once(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    braw = Raw(bob)
    assert alice.ask("cake!") == "Posted #1."
    u = update_of(braw, "cake!")
    for i in range(2):
        bob.send_raw(REACTION % (BOT, "react-%d" % i, u.get("id"), "\U0001f44d"))
    alice.wait("bob reacted \U0001f44d to #1")
    time.sleep(0.5)
    assert [m for m in alice.drain(1.0) if "reacted" in (m["body"] or "")] == []
    assert [m for m in bob.drain(0.2) if "reacted" in (m["body"] or "")] == []
