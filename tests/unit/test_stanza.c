/*
 * test_stanza.c - what a received <message/> means (SPEC 9), from the
 * stanzas today's clients send, given as strings: plain messages with
 * receipts and markers, corrections, both retraction forms, replies with
 * their fallback quote (and ranges counted in the wrong unit or broken),
 * reactions, every kind of encryption, chat states and markers alone; the
 * XEP-0115 verification string; and the chat messages the bot sends,
 * written as text and read back (hostile text included).
 *
 * The stanzas follow the XEPs' examples and what Conversations, Gajim,
 * Dino and Monal put around a body (ids are made up).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "stanza.h"
#include "../common/text.h"

static xmpp_ctx_t *ctx;
static xmpp_stanza_t *cur_st;
static struct stanza_msg cur;

static void release(void)
{
    if (cur_st == NULL)
        return;
    stanza_msg_free(&cur);
    xmpp_stanza_release(cur_st);
    cur_st = NULL;
}

/* Parse text; the result lives until the next parse (or the end). */
static const struct inmsg *parse(const char *text)
{
    release();
    cur_st = xmpp_stanza_new_from_string(ctx, text);
    assert_non_null(cur_st);
    stanza_msg_parse(cur_st, &cur);
    return &cur.m;
}

/* The body a reply carries once its fallback is cut off. */
static void expect_reply_body(const char *text, const char *body)
{
    const struct inmsg *m = parse(text);

    assert_non_null(m->reply_id);
    assert_non_null(m->body);
    assert_string_equal(m->body, body);
}

#define FROM "from='alice@example.org/phone' to='bot@example.org' "

/* Conversations: a plain message with everything it adds to one. */
static void test_plain_message(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='a1b2'>"
              "<body>Hello, world!</body>"
              "<request xmlns='urn:xmpp:receipts'/>"
              "<markable xmlns='urn:xmpp:chat-markers:0'/>"
              "<origin-id xmlns='urn:xmpp:sid:0' id='a1b2'/>"
              "<active xmlns='http://jabber.org/protocol/chatstates'/>"
              "</message>");
    assert_string_equal(m->from, "alice@example.org/phone");
    assert_string_equal(m->type, "chat");
    assert_string_equal(m->id, "a1b2");
    assert_string_equal(m->body, "Hello, world!");
    assert_string_equal(m->origin_id, "a1b2");
    assert_true(m->receipt_request);
    assert_int_equal(m->crypto, CRYPTO_NONE);
    assert_null(m->replace_id);
    assert_null(m->retract_id);
    assert_null(m->reply_id);
    assert_null(m->reaction_id);
    assert_int_equal(dispatch_classify(m), MSG_HANDLE);
}

/* A "> " quote without XEP-0461 is left to the layers above. */
/* A component's stream (XEP-0114) has its own default namespace: the
 * body is read all the same, and the address written to is kept. */
static void test_component_stream_message(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message xmlns='jabber:component:accept' "
              "from='bob@example.org/phone' "
              "to='alice@updates.example.org' type='chat' id='c1'>"
              "<body>hi there</body></message>");
    assert_string_equal(m->body, "hi there");
    assert_string_equal(m->to, "alice@updates.example.org");
    assert_int_equal(dispatch_classify(m), MSG_HANDLE);
}

static void test_quote_without_reply_is_kept(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='q'>"
              "<body>&gt; bob: lunch? #3\nyes!</body></message>");
    assert_string_equal(m->body, "> bob: lunch? #3\nyes!");
    assert_null(m->reply_id);
}

/* XEP-0308 as Conversations and Gajim send it. */
static void test_correction(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='c2'>"
              "<body>Hello, world, corrected</body>"
              "<replace id='a1b2' xmlns='urn:xmpp:message-correct:0'/>"
              "<origin-id xmlns='urn:xmpp:sid:0' id='c2'/>"
              "<request xmlns='urn:xmpp:receipts'/>"
              "</message>");
    assert_string_equal(m->replace_id, "a1b2");
    assert_string_equal(m->body, "Hello, world, corrected");
    assert_int_equal(dispatch_classify(m), MSG_CORRECTION);
}

/* XEP-0424 (urn:xmpp:message-retract:1, as Gajim and Dino send it): the
 * body is a fallback for other clients and must never be posted. */
static void test_retraction(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='r9'>"
              "<retract id='a1b2' xmlns='urn:xmpp:message-retract:1'/>"
              "<fallback xmlns='urn:xmpp:fallback:0' "
              "for='urn:xmpp:message-retract:1'/>"
              "<body>/me retracted a previous message, but it's unsupported by "
              "your client.</body>"
              "<store xmlns='urn:xmpp:hints'/>"
              "</message>");
    assert_string_equal(m->retract_id, "a1b2");
    assert_int_equal(dispatch_classify(m), MSG_RETRACTION);
}

/* The older form (XEP-0424 0.3 on XEP-0422 fastening), still sent by
 * some clients. */
static void test_retraction_fasten(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='r8'>"
              "<apply-to id='a1b2' xmlns='urn:xmpp:fasten:0'>"
              "<retract xmlns='urn:xmpp:message-retract:0'/>"
              "</apply-to>"
              "<fallback xmlns='urn:xmpp:fallback:0'/>"
              "<body>This person attempted to retract a previous message, but "
              "it's unsupported by your client.</body>"
              "</message>");
    assert_string_equal(m->retract_id, "a1b2");
    assert_int_equal(dispatch_classify(m), MSG_RETRACTION);
    /* Fastened to something else than a retraction: not one. */
    m = parse("<message " FROM "type='chat' id='r7'>"
              "<apply-to id='a1b2' xmlns='urn:xmpp:fasten:0'>"
              "<external name='x'/></apply-to><body>hi</body></message>");
    assert_null(m->retract_id);
    /* Without its id it is still a retraction, never a post. */
    m = parse("<message " FROM "type='chat' id='r6'>"
              "<retract xmlns='urn:xmpp:message-retract:1'/>"
              "<body>fallback</body></message>");
    assert_string_equal(m->retract_id, "");
    assert_int_equal(dispatch_classify(m), MSG_RETRACTION);
}

/* XEP-0461 with its XEP-0428 fallback quote, in code points. */
static void test_reply_fallback_is_cut(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='p1'>"
              "<body>&gt; alice: We should bake a cake #12\nGreat idea!</body>"
              "<reply to='bot@example.org' id='starling-12-3' "
              "xmlns='urn:xmpp:reply:0'/>"
              "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>"
              "<body start='0' end='35'/></fallback>"
              "</message>");
    assert_string_equal(m->reply_id, "starling-12-3");
    assert_string_equal(m->reply_to, "bot@example.org");
    assert_string_equal(m->body, "Great idea!");
    assert_int_equal(dispatch_classify(m), MSG_HANDLE);
}

#define REPLY_WITH(range)                                                      \
    "<message " FROM "type='chat' id='p2'>"                                    \
    "<body>&gt; alice: Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x91\x8d #12\n"        \
    "Great idea!</body>"                                                       \
    "<reply to='bot@example.org' id='starling-12-3' "                          \
    "xmlns='urn:xmpp:reply:0'/>"                                               \
    "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>" range      \
    "</fallback></message>"
#define WHOLE                                                                  \
    "> alice: Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x91\x8d #12\nGreat idea!"

/* The quote "> alice: Café ☕ 👍 #12\n" is 22 code points, 28 UTF-8
 * bytes (as Dino counted) and 23 UTF-16 units (as Java clients did). */
static void test_reply_ranges_in_any_unit(void **state)
{
    (void)state;
    expect_reply_body(REPLY_WITH("<body start='0' end='22'/>"), "Great idea!");
    expect_reply_body(REPLY_WITH("<body start='0' end='28'/>"), "Great idea!");
    expect_reply_body(REPLY_WITH("<body start='0' end='23'/>"), "Great idea!");
    /* Ending before its newline (21 code points) is a quote too. */
    expect_reply_body(REPLY_WITH("<body start='0' end='21'/>"),
                      "\nGreat idea!");
}

/* Ranges that cannot be trusted cut nothing, and nothing crashes. */
static void test_reply_bad_ranges_cut_nothing(void **state)
{
    (void)state;
    /* start > end */
    expect_reply_body(REPLY_WITH("<body start='22' end='0'/>"), WHOLE);
    /* beyond the body in every unit */
    expect_reply_body(REPLY_WITH("<body start='0' end='500'/>"), WHOLE);
    expect_reply_body(REPLY_WITH("<body start='0' end='99999999999999999'/>"),
                      WHOLE);
    /* 13 bytes ends inside the two bytes of "é" */
    expect_reply_body(REPLY_WITH("<body start='0' end='13'/>"), WHOLE);
    /* inside the user's own text in every unit */
    expect_reply_body(REPLY_WITH("<body start='0' end='25'/>"), WHOLE);
    /* not numbers, negative, half a range */
    expect_reply_body(REPLY_WITH("<body start='0' end='x'/>"), WHOLE);
    expect_reply_body(REPLY_WITH("<body start='-1' end='22'/>"), WHOLE);
    expect_reply_body(REPLY_WITH("<body start='+0' end='22'/>"), WHOLE);
    expect_reply_body(REPLY_WITH("<body end='22'/>"), WHOLE);
    /* a start that is not a line start */
    expect_reply_body(REPLY_WITH("<body start='2' end='22'/>"), WHOLE);
    /* one good and one bad range: neither is cut */
    expect_reply_body(
        REPLY_WITH("<body start='0' end='22'/><body start='5' end='1'/>"),
        WHOLE);
    /* a fallback for something else than the reply is not cut */
    expect_reply_body(
        "<message " FROM "type='chat' id='p3'><body>&gt; q\nhi</body>"
        "<reply id='x' xmlns='urn:xmpp:reply:0'/>"
        "<fallback xmlns='urn:xmpp:fallback:0' for='urn:example:other'>"
        "<body start='0' end='4'/></fallback></message>",
        "> q\nhi");
    /* an empty range is no quote: nothing to cut */
    expect_reply_body(REPLY_WITH("<body start='0' end='0'/>"), WHOLE);
    /* the whole body (XEP-0428: <body/> without a range) */
    expect_reply_body(REPLY_WITH("<body/>"), "");
}

/* XEP-0444 as Conversations sends it: no body, distinct emoji. */
static void test_reactions(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse(
        "<message " FROM "type='chat' id='e1'>"
        "<reactions id='starling-12-3' xmlns='urn:xmpp:reactions:0'>"
        "<reaction>\xf0\x9f\x91\x8b</reaction>"
        "<reaction>\xf0\x9f\x90\xa2</reaction>"
        "<reaction>\xf0\x9f\x91\x8b</reaction>"
        "<reaction>  </reaction>"
        "<reaction>" /* 65 bytes: not an emoji */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "</reaction>"
        "</reactions>"
        "<store xmlns='urn:xmpp:hints'/>"
        "</message>");
    assert_string_equal(m->reaction_id, "starling-12-3");
    assert_int_equal(m->n_reactions, 2);
    assert_string_equal(m->reactions[0], "\xf0\x9f\x91\x8b");
    assert_string_equal(m->reactions[1], "\xf0\x9f\x90\xa2");
    assert_null(m->body);
    /* A reaction has no body, yet it is not ignored like a chat state. */
    assert_int_equal(dispatch_classify(m), MSG_REACTION);
    /* All reactions taken back: an empty list. */
    m = parse("<message " FROM "type='chat' id='e2'>"
              "<reactions id='starling-12-3' xmlns='urn:xmpp:reactions:0'/>"
              "</message>");
    assert_string_equal(m->reaction_id, "starling-12-3");
    assert_int_equal(m->n_reactions, 0);
}

static void test_reactions_bounded(void **state)
{
    char text[2048];
    int n;
    const struct inmsg *m;

    (void)state;
    n = snprintf(text, sizeof(text),
                 "<message " FROM "type='chat' id='e3'>"
                 "<reactions id='x' xmlns='urn:xmpp:reactions:0'>");
    for (int i = 0; i < INMSG_REACTIONS_MAX + 4; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "<reaction>%c</reaction>", 'a' + i);
    snprintf(text + n, sizeof(text) - (size_t)n, "</reactions></message>");
    m = parse(text);
    assert_int_equal(m->n_reactions, INMSG_REACTIONS_MAX);
}

static enum msg_crypto crypto_of(const char *text)
{
    const struct inmsg *m = parse(text);

    if (m->crypto != CRYPTO_NONE)
        assert_int_equal(dispatch_classify(m), MSG_ENCRYPTED);
    return m->crypto;
}

/* Conversations' OMEMO message: payload, XEP-0380 marker and a fallback
 * body that says to get another client. */
static void test_omemo_with_fallback_body(void **state)
{
    (void)state;
    assert_int_equal(
        crypto_of(
            "<message " FROM "type='chat' id='o1'>"
            "<encrypted xmlns='eu.siacs.conversations.axolotl'>"
            "<header sid='27183'><key rid='31415'>BASE64==</key>"
            "<iv>BASE64==</iv></header>"
            "<payload>BASE64==</payload></encrypted>"
            "<request xmlns='urn:xmpp:receipts'/>"
            "<markable xmlns='urn:xmpp:chat-markers:0'/>"
            "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/>"
            "<encryption xmlns='urn:xmpp:eme:0' name='OMEMO' "
            "namespace='eu.siacs.conversations.axolotl'/>"
            "<body>I sent you an OMEMO encrypted message but your client "
            "doesn\xe2\x80\x99t seem to support that. Find more information "
            "on https://conversations.im/omemo</body>"
            "<store xmlns='urn:xmpp:hints'/>"
            "</message>"),
        CRYPTO_OMEMO);
    /* OMEMO 0.8+ (urn:xmpp:omemo:2), without a fallback body. */
    assert_int_equal(
        crypto_of("<message " FROM "type='chat' id='o2'>"
                  "<encrypted xmlns='urn:xmpp:omemo:2'>"
                  "<header sid='27183'><keys jid='bot@example.org'>"
                  "<key rid='31415'>BASE64==</key></keys></header>"
                  "<payload>BASE64==</payload></encrypted>"
                  "<encryption xmlns='urn:xmpp:eme:0' "
                  "namespace='urn:xmpp:omemo:2'/>"
                  "</message>"),
        CRYPTO_OMEMO);
}

/* Key transport and heartbeats carry nothing anyone wrote. */
static void test_omemo_key_transport_is_nothing(void **state)
{
    const struct inmsg *m;

    (void)state;
    m = parse("<message " FROM "type='chat' id='o3'>"
              "<encrypted xmlns='eu.siacs.conversations.axolotl'>"
              "<header sid='27183'><key rid='31415'>BASE64==</key>"
              "<iv>BASE64==</iv></header></encrypted>"
              "<store xmlns='urn:xmpp:hints'/></message>");
    assert_int_equal(m->crypto, CRYPTO_NONE);
    assert_int_equal(dispatch_classify(m), MSG_IGNORE_NOBODY);
}

static void test_openpgp_pgp_otr(void **state)
{
    (void)state;
    /* XEP-0374 OpenPGP for XMPP (Gajim's plugin, Monal) */
    assert_int_equal(
        crypto_of("<message " FROM "type='chat' id='x1'>"
                  "<openpgp xmlns='urn:xmpp:openpgp:0'>BASE64==</openpgp>"
                  "<encryption xmlns='urn:xmpp:eme:0' "
                  "namespace='urn:xmpp:openpgp:0'/>"
                  "<body>This message is encrypted with OpenPGP for XMPP"
                  "</body></message>"),
        CRYPTO_OX);
    /* XEP-0027 legacy PGP */
    assert_int_equal(
        crypto_of("<message " FROM "type='chat' id='x2'>"
                  "<body>This message is encrypted.</body>"
                  "<x xmlns='jabber:x:encrypted'>qANQR1DBwU4DX7jmYZnncm"
                  "</x></message>"),
        CRYPTO_PGP);
    /* OTR: data, the opener (query), with leading space, XEP-0364 */
    assert_int_equal(crypto_of("<message " FROM "type='chat' id='x3'>"
                               "<body>?OTR:AAMDJ+MVmSfjFZcAAAAAAQ==.</body>"
                               "</message>"),
                     CRYPTO_OTR);
    assert_int_equal(crypto_of("<message " FROM "type='chat' id='x4'>"
                               "<body> ?OTRv23?</body></message>"),
                     CRYPTO_OTR);
    assert_int_equal(crypto_of("<message " FROM "type='chat' id='x5'>"
                               "<encryption xmlns='urn:xmpp:eme:0' "
                               "namespace='urn:xmpp:otr:0'/>"
                               "<body>?OTR:AAMD</body></message>"),
                     CRYPTO_OTR);
    /* XEP-0380 naming a method nobody here knows, with a body */
    assert_int_equal(crypto_of("<message " FROM "type='chat' id='x6'>"
                               "<encryption xmlns='urn:xmpp:eme:0' "
                               "namespace='urn:example:crypto'/>"
                               "<body>[encrypted]</body></message>"),
                     CRYPTO_OTHER);
    /* Mentioning OTR later is plain text. */
    assert_int_equal(crypto_of("<message " FROM "type='chat' id='x7'>"
                               "<body>is ?OTR still a thing</body></message>"),
                     CRYPTO_NONE);
}

/* XEP-0085 chat states and XEP-0333 markers on their own. */
static void test_chat_state_and_marker_alone(void **state)
{
    static const char *const alone[] = {
        "<message " FROM "type='chat' id='s1'>"
        "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
        "<no-store xmlns='urn:xmpp:hints'/></message>",
        "<message " FROM "type='chat' id='s2'>"
        "<paused xmlns='http://jabber.org/protocol/chatstates'/></message>",
        "<message " FROM "id='s3'>"
        "<displayed xmlns='urn:xmpp:chat-markers:0' id='starling-12-3'/>"
        "<store xmlns='urn:xmpp:hints'/></message>",
        "<message " FROM "type='chat' id='s4'>"
        "<received xmlns='urn:xmpp:receipts' id='starling-12-3'/></message>",
        NULL,
    };
    const struct inmsg *m;

    (void)state;
    for (size_t i = 0; alone[i] != NULL; i++) {
        m = parse(alone[i]);
        assert_null(m->body);
        assert_false(m->receipt_request);
        assert_int_equal(dispatch_classify(m), MSG_IGNORE_NOBODY);
    }
}

static void test_bodies(void **state)
{
    const struct inmsg *m;

    (void)state;
    /* An empty body is a body, and no post. */
    m = parse("<message " FROM "type='chat' id='b1'><body/></message>");
    assert_string_equal(m->body, "");
    assert_int_equal(dispatch_classify(m), MSG_IGNORE_NOBODY);
    /* A body of another namespace is not the message's body. */
    m = parse("<message " FROM "type='chat' id='b2'>"
              "<body xmlns='urn:example:x'>no</body></message>");
    assert_null(m->body);
    /* Several (xml:lang): the first; entities decoded. */
    m = parse("<message " FROM "type='chat' id='b3'>"
              "<body>fish &amp; chips &lt;3</body>"
              "<body xml:lang='fr'>poisson</body></message>");
    assert_string_equal(m->body, "fish & chips <3");
}

/* XEP-0115 5.2's example: Exodus 0.9.1. */
static void test_caps_ver(void **state)
{
    static const char *const features[] = {
        "http://jabber.org/protocol/muc",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#items",
    };
    char ver[STANZA_CAPS_VER_SIZE];

    (void)state;
    stanza_caps_ver(ctx, "client/pc//Exodus 0.9.1", features, 4, ver);
    assert_string_equal(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

/* Outgoing messages ------------------------------------------------------ */

static struct buf out;

/* o written as XML, then parsed back (as a client's library would). */
static const struct inmsg *written(const struct outmsg *o, const char *id,
                                   bool origin, const char *from)
{
    stanza_message_xml(&out, o, id, origin, from, "bot@example.org");
    assert_int_equal(out.len, strlen(out.s));
    return parse(out.s);
}

static const char *attr_of(const char *name, const char *ns, const char *attr)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name_and_ns(cur_st, name, ns);

    assert_non_null(c);
    return xmpp_stanza_get_attribute(c, attr);
}

/* An update as delivered: stable id as id and origin-id, held so with a
 * delay from the bot; the body's markup characters come back as they
 * were. */
static void test_outgoing_update(void **state)
{
    const char *body = "bob: tea & <cake> \"quoted\" 'too' (#5)";
    struct outmsg o = {
        .to = "alice@example.org", .body = body, .stamp = 1700000000};
    const struct inmsg *m;

    (void)state;
    m = written(&o, "sl-5-7", true, NULL);
    assert_string_equal(xmpp_stanza_get_name(cur_st), "message");
    assert_string_equal(m->type, "chat");
    assert_string_equal(xmpp_stanza_get_to(cur_st), "alice@example.org");
    assert_null(xmpp_stanza_get_from(cur_st));
    assert_string_equal(m->id, "sl-5-7");
    assert_string_equal(m->origin_id, "sl-5-7");
    assert_string_equal(m->body, body);
    assert_string_equal(attr_of("delay", "urn:xmpp:delay", "stamp"),
                        "2023-11-14T22:13:20Z");
    assert_string_equal(attr_of("delay", "urn:xmpp:delay", "from"),
                        "bot@example.org");
    assert_null(m->replace_id);
    assert_null(m->retract_id);

    /* A reply of the bot's own: no origin-id, no delay; a component
     * names its sender. */
    o.stamp = 0;
    m = written(&o, "m-1", false, "bob@starling.example.org");
    assert_null(m->origin_id);
    assert_null(xmpp_stanza_get_child_by_name(cur_st, "delay"));
    assert_string_equal(xmpp_stanza_get_from(cur_st),
                        "bob@starling.example.org");
}

/* Text the server would refuse goes out repaired, and markup in any text
 * or attribute stays text: the message is always well-formed. */
static void test_outgoing_hostile_text(void **state)
{
    /* a stray byte, a control character XML forbids, U+023A cut after its
     * first byte, then an element that must not become one */
    const char *body = "a\xff b\x01 c\xc8 </body><evil/>";
    struct outmsg o = {.to = "alice@example.org",
                       .body = body,
                       .oob_url = "https://up.example.org/f?a=1&b=<2>\xfe"};
    const struct inmsg *m;

    (void)state;
    m = written(&o, "id\"' <&>", true, NULL);
    assert_string_equal(m->body, "a\xef\xbf\xbd b\xef\xbf\xbd "
                                 "c\xef\xbf\xbd </body><evil/>");
    assert_true(text_xml_valid(m->body, strlen(m->body)));
    assert_null(xmpp_stanza_get_child_by_name(cur_st, "evil"));
    assert_string_equal(m->id, "id\"' <&>");
    assert_string_equal(m->origin_id, "id\"' <&>");
    {
        xmpp_stanza_t *x =
            xmpp_stanza_get_child_by_name_and_ns(cur_st, "x", "jabber:x:oob");
        char *url;

        assert_non_null(x);
        url = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "url"));
        assert_string_equal(url,
                            "https://up.example.org/f?a=1&b=<2>\xef\xbf\xbd");
        xmpp_free(ctx, url);
    }
}

/* A fan-out writes one body for many recipients: each copy carries it
 * whole, and the next body, of the same length, is its own. */
static void test_outgoing_same_body_many_times(void **state)
{
    struct outmsg o = {.to = "a@example.org", .body = "x: 1 < 2 \xff"};
    const struct inmsg *m;

    (void)state;
    for (int i = 0; i < 3; i++) {
        o.to = i == 1 ? "b@example.org" : "a@example.org";
        m = written(&o, "s-1", true, NULL);
        assert_string_equal(m->body, "x: 1 < 2 \xef\xbf\xbd");
        assert_string_equal(xmpp_stanza_get_to(cur_st), o.to);
    }
    o.body = "x: 1 > 2 \xff";
    m = written(&o, "s-2", true, NULL);
    assert_string_equal(m->body, "x: 1 > 2 \xef\xbf\xbd");
    o.body = "";
    m = written(&o, "s-3", true, NULL);
    assert_true(m->body == NULL || m->body[0] == '\0');
}

/* Addresses and ids are written as they are only when every byte is
 * printable ASCII XML gives no meaning: each byte at the edge of that
 * range reads back as it was sent, or repaired when XML forbids it. */
static void test_outgoing_attribute_bytes_at_the_edges(void **state)
{
    static const struct {
        const char *sent, *read;
    } cases[] = {
        {" ~@example.org", " ~@example.org"},     /* 0x20, 0x7e */
        {"a\"b@example.org", "a\"b@example.org"}, /* each escaped */
        {"a&b@example.org", "a&b@example.org"},
        {"a'b@example.org", "a'b@example.org"},
        {"a<b@example.org", "a<b@example.org"},
        {"a>b@example.org", "a>b@example.org"},
        {"a\x7f@example.org", "a\x7f@example.org"}, /* DEL: XML allows it */
        {"\xd0\xb9@example.org", "\xd0\xb9@example.org"},   /* UTF-8 */
        {"a\x1f@example.org", "a\xef\xbf\xbd@example.org"}, /* repaired */
        {"a\x80@example.org", "a\xef\xbf\xbd@example.org"},
    };
    struct outmsg o = {.body = "x"};
    const struct inmsg *m;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o.to = cases[i].sent;
        m = written(&o, cases[i].sent, true, NULL);
        assert_string_equal(xmpp_stanza_get_to(cur_st), cases[i].read);
        assert_string_equal(m->id, cases[i].read);
        assert_string_equal(m->origin_id, cases[i].read);
    }
}

/* A correction and a retraction point at the copy's id, in the forms
 * clients read (the older fasten form beside XEP-0424). */
static void test_outgoing_correction_and_retraction(void **state)
{
    struct outmsg o = {.to = "alice@example.org",
                       .body = "bob: fixed",
                       .replace_id = "sl-5-7"};
    const struct inmsg *m;
    xmpp_stanza_t *a;

    (void)state;
    m = written(&o, "sl-5-7-e1", true, NULL);
    assert_string_equal(m->replace_id, "sl-5-7");
    assert_string_equal(m->body, "bob: fixed");
    assert_string_equal(m->origin_id, "sl-5-7-e1");

    o.replace_id = NULL;
    o.retract_id = "sl-5-7";
    o.body = "bob deleted #5";
    m = written(&o, "sl-5-7-r", true, NULL);
    assert_string_equal(m->retract_id, "sl-5-7");
    assert_string_equal(attr_of("retract", "urn:xmpp:message-retract:1", "id"),
                        "sl-5-7");
    assert_string_equal(attr_of("apply-to", "urn:xmpp:fasten:0", "id"),
                        "sl-5-7");
    a = xmpp_stanza_get_child_by_name_and_ns(cur_st, "apply-to",
                                             "urn:xmpp:fasten:0");
    assert_non_null(xmpp_stanza_get_child_by_name_and_ns(
        a, "retract", "urn:xmpp:message-retract:0"));
    assert_string_equal(attr_of("fallback", "urn:xmpp:fallback:0", "for"),
                        "urn:xmpp:message-retract:1");
    assert_non_null(attr_of("store", "urn:xmpp:hints", "xmlns"));
}

static int setup(void **state)
{
    (void)state;
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    return ctx != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    release();
    buf_free(&out);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_message),
        cmocka_unit_test(test_component_stream_message),
        cmocka_unit_test(test_quote_without_reply_is_kept),
        cmocka_unit_test(test_correction),
        cmocka_unit_test(test_retraction),
        cmocka_unit_test(test_retraction_fasten),
        cmocka_unit_test(test_reply_fallback_is_cut),
        cmocka_unit_test(test_reply_ranges_in_any_unit),
        cmocka_unit_test(test_reply_bad_ranges_cut_nothing),
        cmocka_unit_test(test_reactions),
        cmocka_unit_test(test_reactions_bounded),
        cmocka_unit_test(test_omemo_with_fallback_body),
        cmocka_unit_test(test_omemo_key_transport_is_nothing),
        cmocka_unit_test(test_openpgp_pgp_otr),
        cmocka_unit_test(test_chat_state_and_marker_alone),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_caps_ver),
        cmocka_unit_test(test_outgoing_update),
        cmocka_unit_test(test_outgoing_hostile_text),
        cmocka_unit_test(test_outgoing_same_body_many_times),
        cmocka_unit_test(test_outgoing_attribute_bytes_at_the_edges),
        cmocka_unit_test(test_outgoing_correction_and_retraction),
    };

    return cmocka_run_group_tests_name("stanza", tests, setup, teardown);
}
