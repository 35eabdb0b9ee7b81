/*
 * text.h - pure text rules: UTF-8, post validation, JIDs and nicks.
 *
 * No I/O, no allocation beyond what is documented: everything here is
 * unit-tested on its own and fuzzed.
 */
#ifndef STARLING_TEXT_H
#define STARLING_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define NICK_MAX      32   /* bytes == code points: [a-z0-9_] */
#define BIO_MAX_CHARS 160  /* code points */
#define JID_MAX       1023 /* longest bare JID we accept, in bytes */

/* Strict UTF-8 (no overlongs, surrogates or > U+10FFFF).  true if valid. */
bool utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t utf8_count(const char *s, size_t len);
/*
 * Length of the longest prefix of the string s that is at most max bytes
 * and does not end inside a character: cutting s there never splits a
 * UTF-8 sequence.  Bytes that are not valid UTF-8 count as one character
 * each (they are repaired where text leaves the bot, see below).
 */
size_t utf8_cut(const char *s, size_t max);
/*
 * Copy as much of src as fits into dst (size > 0 bytes, NUL included),
 * cut with utf8_cut(): what fits of valid UTF-8 stays valid.  Returns the
 * number of bytes copied (without the NUL).
 */
size_t utf8_copy(char *dst, size_t size, const char *src);

/*
 * true if s[0..len) is valid UTF-8 made only of XML 1.0 characters
 * (no C0 control other than tab, newline and carriage return, no U+FFFE
 * or U+FFFF): text that can go into a stanza as it is.
 */
bool text_xml_valid(const char *s, size_t len);
/* Room text_xml_repair() needs for len bytes of input, NUL included. */
#define TEXT_XML_REPAIR_SIZE(len) ((len)*3 + 1)
/*
 * Write s[0..len) into out as text that passes text_xml_valid(): every
 * invalid UTF-8 sequence (stray or missing continuation bytes, overlong
 * forms, encoded surrogates, beyond U+10FFFF; one U+FFFD per maximal
 * invalid subpart, as Unicode recommends) and every character XML 1.0
 * forbids becomes U+FFFD, so that the reader sees that something was
 * there.  Everything else is copied unchanged.  out must hold
 * TEXT_XML_REPAIR_SIZE(len) bytes; returns the length written (without
 * the NUL).
 */
size_t text_xml_repair(const char *s, size_t len, char *out);

/* Trim ASCII/Unicode white space at both ends in place; returns s. */
char *text_trim(char *s);

enum post_check {
    POST_OK,
    POST_EMPTY,
    POST_TOO_LONG,
    POST_BAD_UTF8,
    POST_CONTROL, /* a control character other than \n, \t */
};
/* Validate already-trimmed text against a limit in code points. */
enum post_check text_check_post(const char *s, size_t max_chars);
/* A short human sentence for a refusal, e.g. "Your post is empty." */
const char *text_post_check_reason(enum post_check c);

/*
 * Normalise a JID to its bare form: strip the resource, lower-case the
 * local part and domain (ASCII), reject empty parts, spaces, control
 * characters, a missing domain and anything longer than JID_MAX.
 * Writes into out (size outlen); 0 on success, -1 if it is not a JID.
 */
int jid_bare(const char *jid, char *out, size_t outlen);
/* The resource part of a full JID or NULL; points into jid. */
const char *jid_resource(const char *jid);

/*
 * Nick derived from a bare JID per SPEC 3: the local part (the whole JID
 * if it has none), lower-cased, Latin letters with diacritics, Greek and
 * Cyrillic transliterated to ASCII (é -> e, ß -> ss, ж -> zh), anything
 * else outside [a-z0-9_] dropped, at most NICK_MAX; "user" if nothing is
 * left.  out must hold NICK_MAX + 1 bytes.
 */
void nick_from_jid(const char *bare, char *out);
/* true if nick is reserved for the service: a short fixed list ("admin",
 * "root", "help", "starling"...) and the nick self_bare (the bot's own
 * JID, may be NULL) would get. */
bool nick_reserved(const char *nick, const char *self_bare);
/* true if s is a valid nick: [a-z0-9_]{1,32}. */
bool nick_valid(const char *s);
/*
 * Accept a nick as a user typed it: optional leading '@', case folded.
 * 0 and the canonical nick in out (NICK_MAX + 1 bytes), or -1.
 */
int nick_parse(const char *arg, char *out);

#endif
