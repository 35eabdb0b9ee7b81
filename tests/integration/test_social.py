"""What Juick and identi.ca users expect (issue 15): listings that say
when and continue with "more", tags, favourites, the DM inbox, removing a
follower, follow notices, time zone, quiet hours and the digest setting,
each through a real server."""
import datetime
import json
import re
import sqlite3
import time
import zoneinfo

import pytest

import harness
from harness import unstamp

MORE = 'Send "more" for more.'
DOT = "\u00b7"


@pytest.fixture
def bot(prosody, tmp_path):
    """The usual bot, with room for the posts these tests need."""
    b = harness.Bot(prosody, tmp_path, bot_section='admins = [ "admin@%s" ]; '
                    'posts_per_minute = 1000;' % harness.DOMAIN).start()
    yield b
    assert b.stop() in (0, None), b.read_log()[-3000:]


def age_posts(bot, seconds_by_id):
    """Make posts older, as if written seconds ago (the bot keeps running:
    the store is in WAL mode)."""
    con = sqlite3.connect(bot.db, timeout=10)
    with con:
        for pid, ago in seconds_by_id.items():
            con.execute("UPDATE posts SET created = ? WHERE id = ?",
                        (int(time.time()) - ago, pid))
    con.close()


def ids(listing):
    return [int(n) for n in re.findall(r"^#(\d+)", listing, re.M)]


def notices(client, seconds=1.5):
    return [m["body"] for m in client.drain(seconds)
            if (m["id"] or "").startswith("starling-notice-")]


def test_listings_say_when_and_more_continues(user, bot):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    for i in range(1, 13):
        assert alice.ask("note %d" % i) == "Posted #%d." % i
    age_posts(bot, {1: 5 * 3600 + 30, 2: 3 * 86400 + 30, 3: 40 * 86400})
    page = bob.ask("last")
    assert ids(page) == list(range(12, 2, -1))
    assert page.endswith("\n" + MORE)
    assert re.search(r"^#12 alice %s (now|1m): note 12$" % DOT, page, re.M)
    old = datetime.datetime.fromtimestamp(time.time() - 40 * 86400, datetime.timezone.utc)
    # Past a week, the date (UTC until a time zone is set); the day can
    # only differ if the clock passed midnight during the test.
    assert re.search(r"^#3 alice %s %d-\d\d-\d\d: note 3$" % (DOT, old.year), page, re.M)
    page = bob.ask("more")
    assert page == "#2 alice %s 3d: note 2\n#1 alice %s 5h: note 1" % (DOT, DOT)
    assert bob.ask("more") == "Nothing more to show."
    # A new listing replaces the last: "last NICK N" pages by N.
    assert ids(bob.ask("last alice 4")) == [12, 11, 10, 9]
    assert ids(bob.ask("more")) == [8, 7, 6, 5]
    # A page fits one chat message: long posts end it early.
    for i in range(8):
        alice.ask("long %d %s" % (i, "x" * 480))
    page = bob.ask("last 50")
    assert 1 < len(ids(page)) < 8 and page.endswith(MORE)
    assert len(page.encode()) <= 3100
    rest = ids(bob.ask("more"))
    assert ids(page)[-1] - 1 == rest[0]


def test_search_mentions_and_show_page_too(user, bot):
    alice, bob = user("alice"), user("bob")
    for i in range(12):
        alice.ask("garden @bob %d" % i)
    page = bob.ask("search garden")
    assert ids(page) == list(range(12, 2, -1)) and page.endswith(MORE)
    assert ids(bob.ask("more")) == [2, 1]
    page = bob.ask("mentions")
    assert ids(page) == list(range(12, 2, -1)) and page.endswith(MORE)
    assert ids(bob.ask("more")) == [2, 1]
    # A long thread, replies to replies included, pages with "more".
    for i in range(11):
        bob.ask("#%d reply %d" % (1 if i % 2 == 0 else 12 + i, i))
    page = bob.ask("show #1")
    assert ids(page) == [1] + list(range(13, 23))
    assert "#14 bob (re #13)" in unstamp(page)
    assert page.endswith(MORE)
    assert unstamp(bob.ask("more")) == "#23 bob (re #1): reply 10"
    # A reply's own replies.
    assert ids(bob.ask("show #13")) == [13, 14]


def test_followers_paged_by_key(prosody, bot, user):
    alice = user("alice")
    bot.stop()
    harness.add_followers(bot.db, "alice", ["f%02d" % i for i in range(25)])
    bot.start()
    page = alice.ask("followers", timeout=20)
    lines = page.split("\n")
    assert lines[0] == "Followers (25):"
    # Newest follow first (same second: newest user first); they followed
    # on 1970-01-01 in the store.
    assert lines[1:3] == ["f24 %s 1970-01-01" % DOT, "f23 %s 1970-01-01" % DOT]
    assert len(lines) == 22 and lines[-1] == MORE
    page = alice.ask("more")
    assert page.split("\n") == ["f%02d %s 1970-01-01" % (i, DOT) for i in range(4, -1, -1)]
    assert alice.ask("more") == "Nothing more to show."
    assert alice.ask("following") == "You follow nobody yet."


def test_tags_list_and_track(user):
    alice, bob, carol, dave = user("alice"), user("bob"), user("carol"), user("dave")
    assert alice.ask("#XMPP rocks") == "Posted #1."
    alice.ask("no tag, just xmpp")
    alice.ask("again #xmpp and #c")
    assert unstamp(bob.ask("#xmpp")) == "#3 alice: again #xmpp and #c\n#1 alice: #XMPP rocks"
    assert unstamp(bob.ask("last #Xmpp 1")) == "#3 alice: again #xmpp and #c\n" + MORE
    assert unstamp(bob.ask("more")) == "#1 alice: #XMPP rocks"
    assert bob.ask("#nothing") == "No posts tagged #nothing yet."
    assert bob.ask("last #12") == "Usage: last [NICK|#tag] [N]"
    # "#12" is still post 12; "#c" a tag.
    assert unstamp(bob.ask("#c")) == "#3 alice: again #xmpp and #c"
    # Tracking a tag matches the tag, tracking the word any use of it.
    assert carol.ask("track #XMPP") == "Tracking #xmpp: posts tagged so will reach you."
    assert dave.ask("track xmpp") == "Tracking xmpp: posts containing it will reach you."
    assert carol.ask("tracking") == "Tracking: #xmpp"
    alice.ask("plain xmpp here")
    alice.ask("now #xmpp tagged")
    assert "plain xmpp here" in dave.wait("plain")["body"]
    assert "now #xmpp tagged" in dave.wait("tagged")["body"]
    assert "now #xmpp tagged" in carol.wait("tagged")["body"]
    assert [m for m in carol.seen if "plain" in (m["body"] or "")] == []
    assert [b for b in [m["body"] for m in carol.drain(1.5)] if "plain" in (b or "")] == []
    assert carol.ask("untrack #xmpp") == "No longer tracking #xmpp."
    assert carol.ask("track #12") == "Usage: track WORD|#tag"


def test_favourites(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    alice.ask("worth keeping")
    alice.ask("also good")
    assert bob.ask("fav #1") == "Faved #1."
    assert alice.wait("faved")["body"] == "bob faved #1."
    assert bob.ask("fav 1") == "#1 is already among your favourites."
    assert bob.ask("fav #2") == "Faved #2."
    assert unstamp(bob.ask("favs")) == "#2 alice: also good\n#1 alice: worth keeping"
    assert bob.ask("unfav #2") == "Unfaved #2."
    assert bob.ask("unfav #2") == "#2 is not among your favourites."
    assert bob.ask("fav #2") == "Faved #2."
    # Told once per user and post, however often it is faved again.
    assert notices(alice) == ["bob faved #2."]
    assert bob.ask("fav #99") == "No post #99."
    assert bob.ask("fav it") == "Usage: fav #N (to post this text, send: post TEXT)"
    # Faving your own post or one of someone who blocks you tells nobody.
    assert alice.ask("fav #1") == "Faved #1."
    alice.ask("block carol")
    assert carol.ask("fav #1") == "Faved #1."
    assert notices(alice) == []
    assert carol.ask("favs") != "No favourites yet: \"fav #N\" keeps post N here."
    assert alice.ask("delete #1") == "Deleted #1."
    assert unstamp(bob.ask("favs")) == "#2 alice: also good"
    assert user("dave").ask("favs") == 'No favourites yet: "fav #N" keeps post N here.'


def test_dm_inbox(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    alice.ask("follow bob")
    bob.ask("follow alice")
    carol.ask("follow bob")
    assert alice.ask("d bob hello bob") == "Sent to bob."
    assert bob.ask("d alice hi alice") == "Sent to alice."
    assert bob.ask("d carol hi carol") == "Sent to carol."
    alice.ask("a public post")
    assert unstamp(bob.ask("dms")) == ("#3 to carol: hi carol\n#2 to alice: hi alice\n"
                                       "#1 from alice: hello bob")
    assert re.match(r"#2 from bob %s (now|1m): hi alice" % DOT, alice.ask("dms"))
    assert ids(alice.ask("dms")) == [2, 1]
    assert user("dave").ask("dms") == "No private messages yet."


def test_remove_and_follow_notices(user):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    assert bob.ask("follow alice") == "You now follow alice."
    assert alice.wait("follows you")["body"] == "bob now follows you."
    assert alice.ask("remove bob") == ('bob no longer follows you (and may follow you again; '
                                       '"block bob" stops that).')
    assert alice.ask("followers") == "No followers yet."
    assert alice.ask("remove bob") == "bob doesn't follow you."
    assert alice.ask("remove nobody") == "No user nobody."
    assert alice.ask("remove") == "Usage: remove NICK"
    # Not a block: bob may follow again, and alice is not told twice.
    assert bob.ask("follow alice") == "You now follow alice."
    assert notices(alice) == []
    assert alice.ask("notices off") == "You will no longer be told when someone follows you."
    carol.ask("follow alice")
    assert notices(alice) == []
    assert alice.ask("notices on") == "You will be told when someone follows you."
    assert user("dave").ask("follow alice") == "You now follow alice."
    assert notices(alice) == ["dave now follows you."]
    assert unstamp(alice.ask("followers")) == "Followers (3):\ndave\ncarol\nbob"


def test_time_zone(user):
    alice = user("alice")
    assert alice.ask("tz").startswith("Your time zone is UTC (not set).")
    before = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
    r = alice.ask("tz europe/berlin")
    after = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert r in ["Your time zone is now Europe/Berlin (local time %s)." % t.strftime("%H:%M")
                 for t in (before, after)]
    assert alice.ask("tz").startswith("Your time zone is Europe/Berlin (local time ")
    assert alice.ask("tz Mars/Olympus").startswith("Unknown time zone Mars/Olympus.")
    assert alice.ask("tz leapseconds").startswith("Unknown time zone leapseconds.")
    assert alice.ask("tz ../../etc/passwd") == "Usage: tz [ZONE]"
    assert alice.ask("tz").startswith("Your time zone is Europe/Berlin")


def clock(dt):
    return dt.strftime("%H:%M")


def test_quiet_hours(user):
    alice = user("alice")
    assert alice.ask("quiet") == 'No quiet hours. Set them with "quiet 23:00-07:00".'
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)
    r = alice.ask("quiet %s-%s" % (clock(start), clock(end)))
    assert r == ('Quiet hours %s-%s (UTC; set your time zone with "tz ZONE"): updates '
                 'wait during them and come when they end. Quiet now, until %s.'
                 % (clock(start), clock(end), clock(end)))
    # In Tokyo (UTC+9, no daylight saving) the same hours are not now.
    alice.ask("tz Asia/Tokyo")
    r = alice.ask("quiet")
    assert r.startswith("Quiet hours %s-%s (Asia/Tokyo): " % (clock(start), clock(end)))
    assert "Quiet now" not in r
    tokyo = now.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    later = tokyo + datetime.timedelta(hours=2)
    r = alice.ask("quiet %s to %s" % (clock(tokyo - datetime.timedelta(hours=1)), clock(later)))
    assert r.endswith("Quiet now, until %s." % clock(later))
    assert alice.ask("quiet off") == "Quiet hours off."
    assert alice.ask("quiet") == 'No quiet hours. Set them with "quiet 23:00-07:00".'
    assert alice.ask("quiet 23:00-23:00") == "Usage: quiet [HH:MM-HH:MM|off]"
    assert alice.ask("quiet 25:00-07:00") == "Usage: quiet [HH:MM-HH:MM|off]"
    assert alice.ask("quiet night falls") == "Posted #1."


def test_quiet_hours_hold_updates_until_they_end(user):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)
    assert "Quiet now" in bob.ask("quiet %s-%s" % (clock(start), clock(end)))
    assert alice.ask("goodnight, everyone").startswith("Posted #")
    # bob is online and available, but it is his quiet time: held.
    assert [m for m in bob.drain(1.5) if "goodnight" in (m["body"] or "")] == []
    # Quiet hours over (here: turned off): handed over, with their time.
    assert bob.ask("quiet off") == "Quiet hours off."
    m = bob.wait("goodnight, everyone")
    assert m["delay"] is not None


def test_digest_setting(user):
    alice, bob = user("alice"), user("bob")
    assert bob.ask("digest") == ('Your daily digest comes at 08:00 (UTC; set your time zone '
                                 'with "tz ZONE"). "follow NICK digest" puts NICK\'s posts in it.')
    assert bob.ask("digest 6:30").startswith("Your daily digest comes at 06:30 (UTC;")
    assert bob.ask("digest 8") == "Usage: digest [HH:MM]"
    assert bob.ask("follow alice digest") == ("You now follow alice. alice's posts come in "
                                              "your daily digest at 06:30 (UTC).")
    assert unstamp(bob.ask("following")) == "Following (1):\nalice (digest)"
    assert bob.ask("follow alice DIGEST") == "You already follow alice in your daily digest."
    assert bob.ask("follow alice") == "alice's posts come to you live again."
    assert bob.ask("follow alice") == "You already follow alice."
    assert unstamp(bob.ask("following")) == "Following (1):\nalice"
    bob.ask("tz Europe/Berlin")
    assert bob.ask("follow alice digest") == ("alice's posts come in your daily digest at "
                                              "06:30 (Europe/Berlin).")
    # Unfollowing forgets the mode: a new follow is live.
    bob.ask("unfollow alice")
    assert bob.ask("follow alice") == "You now follow alice."
    assert unstamp(bob.ask("following")) == "Following (1):\nalice"


def test_help_has_examples(user):
    alice = user("alice")
    assert alice.ask("help fav") == ("fav #N - Keep post N among your favourites; its author "
                                     "is told.\nExample: fav #12")
    h = alice.ask("help")
    for usage in ("more", "dms", "favs", "fav #N", "remove NICK", "notices on|off",
                  "tz [ZONE]", "quiet [HH:MM-HH:MM|off]", "digest [HH:MM]",
                  "follow NICK [digest]", "last [NICK|#tag] [N]"):
        assert "\n  %s\n" % usage in h + "\n", usage


def test_export_by_chat(user):
    alice, bob = user("alice"), user("bob")
    alice.ask("bio Gardener")
    bob.ask("follow alice")
    alice.ask("follow bob digest")
    alice.ask("tz Europe/Berlin")
    alice.ask("first \"quoted\" post")
    for i in range(12):
        alice.ask("a longer post to make the export span messages, number %d %s" % (i, "z" * 300))
    bob.ask("d alice psst")
    alice.ask("fav #1")
    alice.ask("track #xmpp")
    intro = alice.ask("export")
    m = re.match(r"Your export: a JSON document of (\d+) bytes in the (\d+) messages below; "
                 r"join their texts in order\. Its format is \"starling-export\" version 1\.$", intro)
    assert m, intro
    size, count = int(m.group(1)), int(m.group(2))
    assert count > 1
    pieces = [alice.wait(lambda x: not harness.is_update(x))["body"] for _ in range(count)]
    assert all(len(p.encode()) <= 3000 for p in pieces)
    text = "".join(pieces)
    assert len(text.encode()) == size
    doc = json.loads(text)
    assert doc["format"] == "starling-export" and doc["version"] == 1
    assert doc["user"]["nick"] == "alice" and doc["user"]["bio"] == "Gardener"
    assert doc["settings"]["time_zone"] == "Europe/Berlin"
    assert [p["id"] for p in doc["posts"]] == list(range(13, 0, -1))
    assert doc["posts"][-1]["text"] == 'first "quoted" post'
    assert doc["private_messages"] == [
        {"id": 14, "created": doc["private_messages"][0]["created"], "direction": "received",
         "peer": "bob", "text": "psst"}]
    assert [(f["nick"], f["digest"]) for f in doc["following"]] == [("bob", True)]
    assert [f["nick"] for f in doc["followers"]] == ["bob"]
    assert [f["post"] for f in doc["favourites"]] == [1]
    assert doc["tracking"] == ["#xmpp"] and doc["blocking"] == []
    # Once an hour.
    assert alice.ask("export") == "You can export once an hour; try again in 60 minutes."
    assert re.match(r"Your export: a JSON document of \d+ bytes in the 1 message below",
                    bob.ask("export"))


def test_delete_me_erases_the_account(user, bot):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    bob.ask("follow alice")
    alice.ask("follow carol")
    carol.ask("follow alice")
    alice.ask("tz Europe/Berlin")
    post = alice.ask("my last words before I go")
    assert post == "Posted #1."
    copy_ = bob.wait("my last words")
    assert carol.ask("#1 farewell!") == "Replied to #1 as #2."
    ask = alice.ask("delete me")
    assert "It cannot be undone." in ask and "your 1 post," in ask
    code = re.search(r"delete me (\d{6})$", ask).group(1)
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    assert alice.ask("delete me " + wrong).startswith("That code is wrong or has expired")
    assert alice.ask("delete me " + code) == (
        "Your account is erased: 1 post and everything else the service held "
        "about you.  Goodbye; to come back, add this contact again.")
    # bob's client takes back the copy it showed.
    r = bob.wait(lambda m: m.get("retract") == copy_["id"])
    assert harness.is_update(r)
    # Nobody knows alice any more; carol's reply stands on its own.
    assert bob.ask("whois alice") == "No user alice."
    assert "(re #1)" not in carol.ask("show #2")
    assert "farewell!" in carol.ask("show #2")
    assert carol.ask("followers") == "No followers yet."
    # The bot cancelled the subscription both ways.
    deadline = time.time() + 10
    while alice.subscription() not in ("none", ""):
        assert time.time() < deadline, alice.subscription()
        time.sleep(0.1)
    # The database keeps an audit line, without the JID or the words.
    con = sqlite3.connect(bot.db, timeout=10)
    rows = con.execute("SELECT admin, action, detail FROM audit").fetchall()
    users = con.execute("SELECT count(*) FROM users WHERE jid LIKE 'alice@%'").fetchone()
    words = con.execute("SELECT count(*) FROM posts WHERE body LIKE '%last words%'").fetchone()
    con.close()
    assert rows == [("self", "erase", "user #1 at their request")]
    assert users == (0,) and words == (0,)
    assert "last words" not in bot.read_log()


def test_admin_erases_a_user(user, bot):
    admin, eve, bob = user("admin"), user("eve"), user("bob")
    bob.ask("follow eve")
    eve.ask("spam spam spam")
    assert bob.ask("erase eve") == "Not permitted."
    assert admin.ask("erase eve") == (
        "Erased eve: 1 post and everything else the service held about them.")
    assert bob.ask("whois eve") == "No user eve."
    assert "spam" not in bob.ask("last")
    con = sqlite3.connect(bot.db, timeout=10)
    rows = con.execute("SELECT admin, action, detail FROM audit").fetchall()
    con.close()
    assert rows == [("admin@%s" % harness.DOMAIN, "erase", "user #2")]


def test_digest_gathers_posts_into_one_message(user, bot):
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice digest")
    assert alice.ask("morning thoughts") == "Posted #1."
    assert alice.ask("evening thoughts") == "Posted #2."
    # bob is online, yet nothing comes live.
    assert [m for m in bob.drain(1.0) if "thoughts" in (m["body"] or "")] == []
    # As if bob's last digest went out two days ago: one is overdue, and
    # goes out as soon as the bot looks again (here: bob sets the time).
    con = sqlite3.connect(bot.db, timeout=10)
    with con:
        con.execute("UPDATE prefs SET digest_sent = ? WHERE user = 2",
                    (int(time.time()) - 2 * 86400,))
    con.close()
    earlier = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    bob.send("digest %s" % clock(earlier))
    m = bob.wait("Your daily digest:")
    assert harness.is_update(m)
    assert unstamp(m["body"]) == ("Your daily digest: 2 posts.\n#1 alice: morning thoughts\n"
                                  "#2 alice: evening thoughts")
    # Sent once: the next is tomorrow's.
    bob.ask("digest %s" % clock(earlier))
    assert [m for m in bob.drain(1.5) if "digest:" in (m["body"] or "")] == []
