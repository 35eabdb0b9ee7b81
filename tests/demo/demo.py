"""make demo: Starling end to end on this machine.

Starts a private Prosody on loopback with its own CA, creates accounts,
starts Starling, and plays a scripted conversation between real XMPP
clients, printing it as a transcript.  Every step checks the bot's answer;
with DEMO_BATCH=1 the script exits 0 when all of them matched and 1
otherwise.  Without it the service keeps running for you to try with any
XMPP client until Ctrl-C.
"""
import datetime
import json
import os
import re
import signal
import sqlite3
import ssl
import sys
import tempfile
import time
import urllib.request
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

failures = []


def say(who, text):
    print("  %-7s -> bot: %s" % (who, text.replace("\n", "\n" + " " * 20)))


def heard(who, m, note=""):
    body = (m["body"] or "").replace("\n", "\n" + " " * 20)
    extra = "  [delayed, sent %s]" % m["delay"] if m.get("delay") else ""
    if m.get("replace"):
        extra += "  [a correction of %s: the client edits it in place]" % m["replace"]
    if m.get("retract"):
        extra += "  [a retraction of %s: the client removes it]" % m["retract"]
    print("  %-7s <- bot: %s%s%s" % (who, body, extra, note))


def raw(c, who, what, xml):
    """A stanza as a client sends it (shown as what it means)."""
    print("  %-7s -> bot: %s" % (who, what))
    c.send_raw(xml)


def answer(c, who, expect):
    """The bot's answer (not an update) containing expect."""
    try:
        m = c.wait(lambda m: not harness.is_update(m) and
                   expect in (m["body"] or ""), timeout=10)
    except AssertionError:
        print("  !! %s got no answer %r" % (who, expect))
        failures.append(expect)
        return
    heard(who, m)


def step(title):
    print("\n== " + title)


def ask(c, who, text, expect):
    say(who, text)
    try:
        body = c.ask(text, timeout=10)
    except AssertionError:
        print("  !! %s got no answer" % who)
        failures.append(text)
        return ""
    heard(who, {"body": body})
    if expect not in body:
        print("  !! expected: %s" % expect)
        failures.append(text)
    return body


def receive(c, who, expect, delayed=False):
    try:
        m = c.wait(expect, timeout=10)
    except AssertionError:
        print("  !! %s did not receive %r" % (who, expect))
        failures.append(expect)
        return
    heard(who, m)
    if delayed and not m.get("delay"):
        print("  !! expected a <delay/> stamp")
        failures.append(expect)


def main():
    batch = os.environ.get("DEMO_BATCH") == "1"
    tmp = tempfile.mkdtemp(prefix="starling-demo-")
    print("Starling demo in %s" % tmp)
    prosody = harness.Prosody(tmp, upload=True).start()
    bot = harness.Bot(prosody, tmp, bot_section='admins = [ "admin@localhost" ];').start()
    print("Prosody on 127.0.0.1:%d (CA %s); Starling is %s" % (prosody.port, prosody.ca_file, harness.BOT))
    people = {}
    try:
        step("Subscribing: adding the bot to your contacts makes you a user")
        for name in ("alice", "bob", "carol", "admin"):
            c = harness.Client(prosody, name).connect()
            people[name] = c
            c.subscribe()
            print("  %-7s adds %s" % (name, harness.BOT))
            receive(c, name, "Welcome to Starling")
        alice, bob, carol, admin = (people[n] for n in ("alice", "bob", "carol", "admin"))

        step("Following and posting")
        ask(bob, "bob", "follow alice", "You now follow alice.")
        ask(carol, "carol", "follow alice", "You now follow alice.")
        ask(alice, "alice", "follow bob", "You now follow bob.")
        ask(alice, "alice", "Hello from Starling! #xmpp", "Posted #1.")
        receive(bob, "bob", "Hello from Starling")
        receive(carol, "carol", "Hello from Starling")

        step("A mention reaches someone who does not follow you")
        ask(bob, "bob", "@alice welcome aboard, the garden looks great", "Posted #2.")
        receive(alice, "alice", "welcome aboard")

        step("A reply reaches the author of the post")
        ask(carol, "carol", "#1 Hi Alice!", "Replied to #1 as #3.")
        receive(alice, "alice", "Hi Alice!")
        ask(alice, "alice", "show #1", "#3 carol (re #1) \u00b7 ")

        step("Search")
        ask(carol, "carol", "search garden", ": @alice welcome aboard")

        step("Tags, favourites, time zone and quiet hours")
        ask(carol, "carol", "#xmpp", ": Hello from Starling! #xmpp")
        ask(bob, "bob", "fav #1", "Faved #1.")
        receive(alice, "alice", "bob faved #1.")
        ask(bob, "bob", "tz europe/berlin", "Your time zone is now Europe/Berlin")
        # A night that starts in a few hours in Berlin: whenever the demo
        # runs, bob is not inside it (updates below must reach him).
        berlin = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
        night = [(berlin + datetime.timedelta(hours=h)).strftime("%H:00") for h in (2, 9)]
        ask(bob, "bob", "quiet %s-%s" % tuple(night),
            "Quiet hours %s-%s (Europe/Berlin)" % tuple(night))

        step("Held while dnd, handed over with its original time on return")
        carol.presence("dnd")
        print("  carol   is now dnd")
        time.sleep(0.5)
        ask(alice, "alice", "Tea at five?", "Posted #4.")
        time.sleep(1.0)
        carol.presence("chat")
        print("  carol   is available again")
        receive(carol, "carol", "Tea at five?", delayed=True)

        step("away on: updates reach you while away")
        ask(bob, "bob", "away on", "while you are away")
        bob.presence("away")
        print("  bob     is now away")
        time.sleep(0.5)
        ask(alice, "alice", "Also cake.", "Posted #5.")
        receive(bob, "bob", "Also cake.")

        step("Threads: a reply reaches everyone who took part (Juick's way)")
        ask(bob, "bob", "#3 count me in", "Replied to #3 as #6.")
        receive(carol, "carol", "count me in")
        receive(alice, "alice", "count me in")

        step("Repeat: rt #N passes a post on to your followers, once")
        ask(admin, "admin", "follow bob", "You now follow bob.")
        ask(bob, "bob", "rt #4", "Repeated #4 to your followers.")
        receive(admin, "admin", "bob repeated alice: Tea at five? (#4)")
        receive(alice, "alice", "bob repeated your #4.")

        step("Quiet hours: updates wait, then come when they end")
        ask(carol, "carol", "tz UTC", "Your time zone is now UTC")
        now = time.gmtime()
        start = "%02d:%02d" % ((now.tm_hour + 23) % 24, now.tm_min)
        end = "%02d:%02d" % ((now.tm_hour + 1) % 24, now.tm_min)
        ask(carol, "carol", "quiet %s-%s" % (start, end), "Quiet now")
        ask(alice, "alice", "Late-night thought", "Posted #")
        time.sleep(1.0)
        print("  carol   (online, but quiet: nothing arrives)")
        ask(carol, "carol", "quiet off", "Quiet hours off.")
        receive(carol, "carol", "Late-night thought", delayed=True)

        step("Today's clients: a correction, a retraction, a native reply")
        raw(alice, "alice", "Gardn party on Sunday (message id g-1)",
            "<message to='%s' type='chat' id='g-1'><body>Gardn party on "
            "Sunday</body><origin-id xmlns='urn:xmpp:sid:0' id='g-1'/>"
            "</message>" % harness.BOT)
        answer(alice, "alice", "Posted #")
        first = None
        try:
            first = bob.wait("Gardn party", timeout=10)
            heard("bob", first)
        except AssertionError:
            print("  !! bob did not receive the post")
            failures.append("Gardn party")
        raw(alice, "alice", "corrects g-1 to: Garden party on Sunday (XEP-0308)",
            "<message to='%s' type='chat' id='g-2'><body>Garden party on "
            "Sunday</body><replace xmlns='urn:xmpp:message-correct:0' "
            "id='g-1'/></message>" % harness.BOT)
        answer(alice, "alice", "Edited #")
        receive(bob, "bob", "Garden party on Sunday")
        if first is not None:
            raw(bob, "bob", "replies to %s: Count me in! (XEP-0461)" % first["id"],
                "<message to='%s' type='chat' id='r-1'><body>&gt; %s\nCount "
                "me in!</body><reply xmlns='urn:xmpp:reply:0' to='%s' id='%s'/>"
                "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>"
                "<body start='0' end='%d'/></fallback></message>"
                % (harness.BOT, first["body"], harness.BOT, first["id"],
                   len("> " + first["body"] + "\n")))
            answer(bob, "bob", "Replied to #")
            receive(alice, "alice", "Count me in!")
        raw(alice, "alice", "retracts g-1 (XEP-0424; its fallback body is never posted)",
            "<message to='%s' type='chat' id='g-3'><retract "
            "xmlns='urn:xmpp:message-retract:1' id='g-1'/><fallback "
            "xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>"
            "<body>This person attempted to retract a previous message, but "
            "it's unsupported by your client.</body></message>" % harness.BOT)
        answer(alice, "alice", "Deleted #")
        receive(bob, "bob", "attempted to retract")

        step("Export: everything the service holds about you, as a JSON file (XEP-0363)")
        ask(bob, "bob", "export", "Your export: a JSON document")
        try:
            link = bob.wait(lambda m: m.get("oob") is not None, timeout=30)
            heard("bob", link, "  [a XEP-0066 link: the client shows the file]")
            ctx = ssl.create_default_context(cafile=prosody.ca_file)
            with urllib.request.urlopen(link["oob"], context=ctx, timeout=20) as r:
                doc = json.loads(r.read())
            print("  (downloaded: %s version %d, %d posts, following %s)" % (
                doc["format"], doc["version"], len(doc["posts"]),
                ", ".join(f["nick"] for f in doc["following"])))
        except (AssertionError, OSError, ValueError) as e:
            print("  !! bob got no file: %s" % e)
            failures.append("export file")

        step("Digests: follow NICK digest gathers NICK's posts into one message a day")
        ask(admin, "admin", "follow alice digest", "come in your daily digest at 08:00")
        ask(alice, "alice", "A thought for the digest", "Posted #")
        time.sleep(1.0)
        print("  admin   (online, but alice's post waits for the digest)")
        con = sqlite3.connect(bot.db, timeout=10)
        with con:
            con.execute("UPDATE prefs SET digest_sent = ? WHERE user = (SELECT id "
                        "FROM users WHERE jid = 'admin@localhost')",
                        (int(time.time()) - 2 * 86400,))
        con.close()
        print("  (time travel: as if admin's last digest went out two days ago)")
        ask(admin, "admin", "digest 06:00", "Your daily digest comes at 06:00")
        receive(admin, "admin", "Your daily digest: 1 post.")

        step("Leaving for good: delete me, confirmed with a code")
        dave = harness.Client(prosody, "dave").connect()
        people["dave"] = dave
        dave.subscribe()
        print("  %-7s adds %s" % ("dave", harness.BOT))
        receive(dave, "dave", "Welcome to Starling")
        ask(alice, "alice", "follow dave", "You now follow dave.")
        ask(dave, "dave", "Trying this out, then I'm off", "Posted #")
        receive(alice, "alice", "Trying this out")
        code = re.search(r"delete me (\d{6})$",
                         ask(dave, "dave", "delete me", "It cannot be undone."))
        if code is None:
            failures.append("delete me code")
        else:
            ask(dave, "dave", "delete me " + code.group(1),
                "Your account is erased: 1 post")
            receive(alice, "alice", "attempted to retract")
            ask(alice, "alice", "whois dave", "No user dave.")

        step("Admin by chat")
        ask(admin, "admin", "stats", "users 4, active 4, online 4")
        ask(bob, "bob", "stats", "Not permitted.")
        ask(admin, "admin", "ban carol too much cake talk", "Banned carol.")
        receive(carol, "carol", "You have been banned")
        ask(carol, "carol", "more cake!", "You are banned")
    finally:
        print()
        if failures:
            print("demo: %d step(s) did not get their expected answer: %s" % (len(failures), failures))
        else:
            print("demo: every step got its expected answer.")
        for c in people.values():
            c.disconnect()
    if not batch:
        print("\nStarling keeps running. Connect any XMPP client (e.g. profanity) to")
        print("  server 127.0.0.1 port %d, trusting CA %s" % (prosody.port, prosody.ca_file))
        print("  accounts: alice, bob, carol, admin, dave @localhost, password %s" % harness.PASSWORD)
        prosody.add_user("dave")
        print("and add %s to your contacts. Ctrl-C stops everything." % harness.BOT)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    rc = bot.stop()
    prosody.stop()
    if rc != 0:
        print("starling exited with %s" % rc)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
