"""Ad-hoc commands (SPEC 9, XEP-0050): the menu a client with a commands
menu shows, driven by slixmpp's own XEP-0050 client (list, execute, fill
in the form, complete); each form does exactly what its chat command does,
with the same permission checks and audit."""
import asyncio
import re
import sqlite3

from slixmpp.exceptions import IqError

import harness

BOT_FULL = harness.BOT + "/starling"
NS = "http://jabber.org/protocol/commands"


def menu(c):
    """The command list c's commands menu shows: {(node, name)}."""
    c._call(c.xmpp.register_plugin, "xep_0050")

    async def go():
        r = await c.xmpp["xep_0050"].get_commands(BOT_FULL, timeout=10)
        return {(i[1], i[2]) for i in r["disco_items"]["items"]}
    return c._run(go())


def run(c, node, values=None, cancel=False):
    """Run node as a client does: execute it, fill in the form it shows
    with values (var -> value), complete.  Returns (what the form showed,
    the status, the notes); an IQ error raises IqError."""
    c._call(c.xmpp.register_plugin, "xep_0050")
    adhoc = c.xmpp["xep_0050"]

    async def go():
        done = asyncio.get_event_loop().create_future()
        shown = {}

        def finish(iq, session):
            if not done.done():
                done.set_result(iq)

        def on_form(iq, session):
            if iq["command"]["status"] != "executing":
                return finish(iq, session)
            form = iq["command"]["form"]
            shown.update(form.get_values())
            session["next"] = finish
            if cancel:
                adhoc.cancel_command(session)
                return
            form.set_values(values or {})
            form.reply()
            session["payload"] = form
            adhoc.complete_command(session)

        adhoc.start_command(BOT_FULL, node, {"next": on_form, "error": finish})
        iq = await asyncio.wait_for(done, 15)
        if iq["type"] == "error":
            raise IqError(iq)
        return shown, iq["command"]["status"], [n[1] for n in iq["command"]["notes"]]
    return c._run(go())


def note(c, node, values=None):
    shown, status, notes = run(c, node, values)
    assert status == "completed", (status, notes)
    return "\n".join(notes)


def execute_raw(c, node, action="execute", sessionid=None, form=None):
    """One <command/> IQ as a client could send it; the error condition
    or the answer's status."""
    c._call(c.xmpp.register_plugin, "xep_0050")

    async def go():
        payload = None
        if form is not None:
            payload = c.xmpp["xep_0004"].make_form(ftype="submit")
            for var, value in form.items():
                payload.add_field(var=var, value=value)
        try:
            iq = await c.xmpp["xep_0050"].send_command(
                BOT_FULL, node, action=action, sessionid=sessionid,
                payload=payload, timeout=10)
            return iq["command"]["status"]
        except IqError as e:
            return "error:" + e.iq["error"]["condition"]
    return c._run(go())


def audit(bot):
    con = sqlite3.connect(bot.db)
    try:
        return con.execute("SELECT admin, action, detail FROM audit").fetchall()
    finally:
        con.close()


def test_menu_lists_what_each_may_run(user, client):
    alice, admin = user("alice"), user("admin")
    eve = client("eve")
    assert NS in alice.iq("disco")["features"]
    assert menu(alice) == {("settings", "Settings"), ("tracking", "Tracked words"),
                           ("export", "Export my data"),
                           ("repeat", "Repeat or favourite a post"),
                           ("mute", "Mute a thread"), ("follow", "Follow"),
                           ("remove", "Remove a follower"), ("read", "Read"),
                           ("delete", "Delete my account")}
    assert {n for n, _ in menu(admin)} == {
        "settings", "tracking", "export", "repeat", "mute", "follow", "remove",
        "read", "delete", "stats", "ban", "unban", "broadcast"}
    # Not a user: nothing to run, and running anything is refused.
    assert menu(eve) == set()
    assert execute_raw(eve, "settings") == "error:forbidden"


def test_settings_off_stops_deliveries_like_off(user):
    alice, bob = user("alice"), user("bob")
    alice.ask("follow bob")
    shown, status, notes = run(alice, "settings", {"deliver": False})
    assert shown["deliver"] is True and shown["away"] is False
    assert shown["nick"] == "alice"
    assert status == "completed"
    assert notes == ['Deliveries off: nothing will be sent or held until you say "on".']
    assert bob.ask("nobody hears this").startswith("Posted #")
    assert [m for m in alice.drain(1.5) if "nobody hears" in (m["body"] or "")] == []
    # The form shows the setting as it is now; turning it on works too.
    shown, _, notes = run(alice, "settings", {"deliver": True})
    assert shown["deliver"] is False
    assert notes == ["Deliveries on."]
    bob.ask("now you hear me")
    assert "now you hear me" in alice.wait("now you hear me")["body"]


def test_nick_and_bio(user):
    alice, bob = user("alice"), user("bob")
    assert note(alice, "settings", {"nick": "ann", "bio": "Birdwatcher"}) == \
        "You are now ann.\nBio updated."
    w = bob.ask("whois ann")
    assert w.startswith("ann") and "Birdwatcher" in w
    assert bob.ask("whois alice") == "No user alice."
    # Refusals are the chat command's, and change nothing.
    assert note(alice, "settings", {"nick": "bob"}) == "The nick bob is taken."
    assert note(alice, "settings", {"nick": "two words"}) == "Nick must be one word."
    assert run(alice, "settings")[0]["nick"] == "ann"


def test_tracking_form(user):
    alice, bob = user("alice"), user("bob")
    assert note(alice, "tracking", {"words": "birds\nfish"}) == (
        "Tracking birds: posts containing it will reach you.\n"
        "Tracking fish: posts containing it will reach you.")
    assert alice.ask("tracking") == "Tracking: birds, fish"
    bob.ask("I saw birds today")
    assert alice.wait("I saw birds today")
    shown, _, notes = run(alice, "tracking", {"words": "fish"})
    assert shown["words"] == "birds\nfish"
    assert notes == ["No longer tracking birds."]
    # Cancelled: nothing changes.
    assert run(alice, "tracking", cancel=True)[1] == "canceled"
    assert alice.ask("tracking") == "Tracking: fish"


def test_admin_stats_ban_broadcast(user, bot):
    admin, alice, eve = user("admin"), user("alice"), user("eve")
    s = note(admin, "stats")
    # (online: whose presence the bot has seen so far)
    assert re.fullmatch(r"users 3, active 3, online \d, posts 0, follows 0, "
                        r"held 0, uptime 0d 0h \dm", s), s
    assert note(admin, "ban", {"user": "eve", "reason": "spamming links"}) == "Banned eve."
    assert "You have been banned from posting: spamming links." in eve.wait("banned")["body"]
    assert eve.ask("buy my stuff") == "You are banned (spamming links)."
    assert "admin admin@localhost: ban eve spamming links" in bot.read_log()
    assert ("admin@localhost", "ban", "eve spamming links") in audit(bot)
    assert note(admin, "unban", {"user": "eve"}) == "Unbanned eve."
    eve.wait("Your ban has been lifted.")
    assert note(admin, "broadcast", {"text": "Maintenance at noon"}).startswith("Broadcast #")
    assert alice.wait("Maintenance")["body"] == "Announcement: Maintenance at noon"
    # A form left empty is refused, and nothing is sent.
    shown, status, notes = run(admin, "ban", {"user": ""})
    assert notes == ["Nick is required."]


def test_non_admin_gets_forbidden_and_nothing_happens(user, bot):
    alice, eve = user("alice"), user("eve")
    for node in ("stats", "ban", "unban", "broadcast"):
        assert execute_raw(alice, node) == "error:forbidden"
    # Skipping the form does not help.
    assert execute_raw(alice, "ban", action="complete", sessionid="1-1",
                       form={"user": "eve"}) == "error:forbidden"
    assert execute_raw(alice, "broadcast", action="complete", sessionid="1-2",
                       form={"text": "free money"}) == "error:forbidden"
    assert eve.ask("still here").startswith("Posted #")
    assert [m for m in eve.drain(1.0) if "free money" in (m["body"] or "")] == []
    assert audit(bot) == []
    assert "ban eve" not in bot.read_log()
    # The protocol's own errors.
    assert execute_raw(alice, "nope") == "error:item-not-found"
    assert execute_raw(alice, "settings", action="complete",
                       sessionid="9-9") == "error:bad-request"


def test_time_settings_and_export_from_the_menu(user):
    alice = user("alice")
    shown, status, notes = run(alice, "settings", {
        "tz": "Europe/Berlin", "quiet": "23:00-07:00", "digest": "06:30", "notices": False})
    assert shown["tz"] == "UTC" and not shown["quiet"] and shown["digest"] == "08:00"
    assert shown["notices"] is True
    assert status == "completed"
    assert len(notes) == 1 and notes[0].startswith("You will no longer be told")
    assert "Your time zone is now Europe/Berlin" in notes[0]
    assert alice.ask("tz").startswith("Your time zone is Europe/Berlin")
    assert "23:00-07:00" in alice.ask("quiet")
    assert alice.ask("digest").startswith("Your daily digest comes at 06:30 (Europe/Berlin)")
    shown = run(alice, "settings")[0]
    assert (shown["tz"], shown["quiet"], shown["digest"], shown["notices"]) == (
        "Europe/Berlin", "23:00-07:00", "06:30", False)
    # Emptied: back to UTC and no quiet hours.
    run(alice, "settings", {"tz": "", "quiet": ""})
    assert alice.ask("quiet") == 'No quiet hours. Set them with "quiet 23:00-07:00".'
    assert alice.ask("tz").startswith("Your time zone is UTC")
    assert menu(alice) >= {("export", "Export my data")}
    assert note(alice, "export") == (
        "Your export comes in chat: a link to a file, or messages whose texts "
        "you join in order.")
    assert alice.wait("Your export: a JSON document of ")


def number(answer):
    """The post number of a "Posted #N." answer."""
    return re.fullmatch(r"Posted #(\d+)\.", answer).group(1)


def test_repeat_and_favourite_from_the_menu(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    carol.ask("follow bob")
    post = number(alice.ask("read this"))
    shown, status, notes = run(bob, "repeat", {"action": "rt", "post": "#" + post})
    assert not shown.get("post") and status == "completed"
    assert notes == ["Repeated #%s to your followers." % post]
    # bob's follower and the author see what "rt #N" makes them see.
    m = carol.wait("bob repeated alice: read this")
    assert harness.is_update(m)
    alice.wait("bob repeated your #%s." % post)
    assert note(bob, "repeat", {"action": "rt", "post": post}) == \
        "You already repeated #%s." % post
    assert note(bob, "repeat", {"action": "fav", "post": post}) == "Faved #%s." % post
    assert alice.wait("faved")["body"] == "bob faved #%s." % post
    assert bob.ask("favs").endswith(": read this")
    # A bad number gets the chat command's answer and posts nothing.
    assert note(bob, "repeat", {"action": "fav", "post": "it"}) == bob.ask("fav it")
    assert note(bob, "repeat", {"action": "unfav", "post": post}) == "Unfaved #%s." % post
    assert bob.ask("favs") == 'No favourites yet: "fav #N" keeps post N here.'
    assert bob.ask("last bob") == "Nothing yet."


def test_follow_mute_and_remove_from_the_menu(user):
    alice, bob = user("alice"), user("bob")
    assert note(bob, "follow", {"user": "alice", "mode": "digest"}) == (
        "You now follow alice. alice's posts come in your daily digest at "
        "08:00 (UTC).")
    assert alice.wait("now follows you")["body"] == "bob now follows you."
    assert note(bob, "follow", {"user": "alice", "mode": "live"}).startswith(
        "alice's posts")
    post = number(alice.ask("a thread"))
    assert note(bob, "mute", {"action": "mute", "post": post}).startswith(
        "Muted the thread")
    assert note(alice, "remove", {"user": "bob"}) == (
        'bob no longer follows you (and may follow you again; "block bob" '
        "stops that).")
    assert alice.ask("followers") == "No followers yet."


def test_read_listings_come_back_as_notes(user):
    alice, bob = user("alice"), user("bob")
    alice.ask("first words")
    alice.ask("second words #xmpp")
    alice.ask("third words")
    listing = note(bob, "read", {"list": "last", "arg": "alice 2"}).split("\n")
    assert listing[0].startswith("#3 alice ") and listing[0].endswith(": third words")
    assert listing[1].startswith("#2 alice ") and listing[1].endswith(": second words #xmpp")
    assert "more" in listing[-1]
    more = note(bob, "read", {"list": "more"})
    assert more.startswith("#1 alice ") and more.endswith(": first words")
    tagged = note(bob, "read", {"list": "last", "arg": "#xmpp"})
    assert tagged.startswith("#2 alice ") and tagged.endswith(": second words #xmpp")
    assert note(bob, "read", {"list": "following"}) == bob.ask("following")
    # An argument the listing does not take is refused, not posted.
    shown, status, notes = run(bob, "read", {"list": "followers", "arg": "alice"})
    assert notes == ["Usage: followers"]
    assert bob.ask("last bob") == "Nothing yet."


def test_delete_my_account_from_the_menu(user, bot):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    assert alice.ask("my last words before I go") == "Posted #1."
    bob.wait("my last words")
    # Empty code: the confirmation code, as "delete me" answers in chat.
    ask = note(alice, "delete", {"code": ""})
    assert "It cannot be undone." in ask and "your 1 post," in ask
    code = re.search(r"delete me (\d{6})$", ask).group(1)
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    assert note(alice, "delete", {"code": wrong}).startswith(
        "That code is wrong or has expired")
    assert note(alice, "delete", {"code": "not a code"}) == \
        alice.ask("delete me not a code")
    assert bob.ask("whois alice").startswith("alice")
    assert note(alice, "delete", {"code": code}) == (
        "Your account is erased: 1 post and everything else the service held "
        "about you.  Goodbye; to come back, add this contact again.")
    assert bob.ask("whois alice") == "No user alice."
    assert audit(bot) == [("self", "erase", "user #1 at their request")]
