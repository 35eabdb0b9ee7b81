/*
 * fuzz_stanza.c - libFuzzer target for the session layer's <message/>
 * parser (bot/stanza.c).  An input starting with '<' is parsed as a whole
 * stanza; any other is "START END\nBODY": a XEP-0461 reply whose fallback
 * range has those attributes, so that the range logic sees every shape of
 * number and body.  Nothing may touch memory it does not own, and a body
 * that was valid UTF-8 must stay valid UTF-8 and never grow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "stanza.h"
#include "text.h"

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *tag(xmpp_stanza_t *parent, const char *name,
                          const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(c, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child_ex(parent, c, 0);
    return c;
}

/* "START END\nBODY" as a reply stanza. */
static xmpp_stanza_t *reply_stanza(char *text, const char **body)
{
    char *nl = strchr(text, '\n'), *sp;
    xmpp_stanza_t *m = xmpp_message_new(ctx, "chat", "bot@x", "id"), *fb, *b;

    *body = nl != NULL ? nl + 1 : "";
    if (nl != NULL)
        *nl = '\0';
    xmpp_stanza_set_from(m, "a@x/r");
    xmpp_message_set_body(m, *body);
    xmpp_stanza_set_attribute(tag(m, "reply", "urn:xmpp:reply:0"), "id", "p");
    fb = tag(m, "fallback", "urn:xmpp:fallback:0");
    xmpp_stanza_set_attribute(fb, "for", "urn:xmpp:reply:0");
    b = tag(fb, "body", NULL);
    if ((sp = strchr(text, ' ')) != NULL) {
        *sp = '\0';
        xmpp_stanza_set_attribute(b, "end", sp + 1);
    }
    xmpp_stanza_set_attribute(b, "start", text);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    const char *body = NULL;
    xmpp_stanza_t *st;
    struct stanza_msg sm;

    if (ctx == NULL) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
    }
    memcpy(text, data, size);
    text[size] = '\0';
    st = size > 0 && text[0] == '<' ? xmpp_stanza_new_from_string(ctx, text)
                                    : reply_stanza(text, &body);
    if (st != NULL) {
        stanza_msg_parse(st, &sm);
        if (body != NULL && sm.m.body != NULL &&
            utf8_valid(body, strlen(body)) &&
            (strlen(sm.m.body) > strlen(body) ||
             !utf8_valid(sm.m.body, strlen(sm.m.body))))
            abort();
        if (sm.m.n_reactions > INMSG_REACTIONS_MAX)
            abort();
        stanza_msg_free(&sm);
        xmpp_stanza_release(st);
    }
    free(text);
    return 0;
}
