/*
 * test_zone.c - time zones against the system database: which names are
 * zones, listing ages, quiet hours across midnight and across
 * daylight-saving changes (Berlin, New York, Lord Howe's half hour), the
 * next wall-clock time for digests, and that TZ is left as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "zone.h"

#define H 3600
#define M 60

/* 2026-03-29 00:00:00 UTC: Berlin springs forward at 01:00 UTC (02:00
 * CET -> 03:00 CEST). */
#define BERLIN_SPRING 1774742400
/* 2026-10-25 00:00:00 UTC: Berlin falls back at 01:00 UTC (03:00 CEST
 * -> 02:00 CET). */
#define BERLIN_FALL 1792886400
/* 2026-03-08 00:00:00 UTC: New York springs forward at 07:00 UTC. */
#define NY_SPRING 1772928000
/* 2026-10-03 00:00:00 UTC: Lord Howe goes from +10:30 to +11 at 15:30
 * UTC (02:00 -> 02:30 local). */
#define LH_SPRING 1790985600

static int minutes(int h, int m)
{
    return h * 60 + m;
}

static void test_valid_names(void **state)
{
    static const char *const good[] = {
        "Europe/Berlin", "UTC",        "America/Argentina/Buenos_Aires",
        "Etc/GMT+5",     "US/Eastern", /* a link in Debian's tzdata */
    };
    static const char *const bad[] = {
        "",
        "Mars/Olympus",
        "../../etc/passwd",
        "Europe/../Europe/Berlin",
        "/etc/localtime",
        "/usr/share/zoneinfo/UTC",
        "Europe",      /* a directory */
        "leapseconds", /* a file of the database, not a zone */
        "zone.tab",    /* no dots in zone names */
        "localtime",   /* the host's zone, not an IANA name */
        "Europe/Berlin/",
        "Europe//Berlin",
        "Europe/Berlin\n",
        "europe/berlin", /* valid only once made canonical */
        "Europe/Berlin_Berlin_Berlin_Berlin_Berlin_Berlin_Berlin_Berlin_B",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!zone_valid(good[i]))
            fail_msg("%s should be a zone", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zone_valid(bad[i]))
            fail_msg("%s should not be a zone", bad[i]);
    assert_false(zone_valid(NULL));
}

static void test_canonical(void **state)
{
    char out[ZONE_NAME_MAX + 1];

    (void)state;
    assert_int_equal(zone_canonical("europe/berlin", out), 0);
    assert_string_equal(out, "Europe/Berlin");
    assert_int_equal(zone_canonical("AMERICA/NEW_YORK", out), 0);
    assert_string_equal(out, "America/New_York");
    assert_int_equal(zone_canonical("utc", out), 0);
    assert_string_equal(out, "UTC");
    assert_int_equal(zone_canonical("Europe/Nowhere", out), -1);
    assert_int_equal(zone_canonical("europe", out), -1);
    assert_int_equal(zone_canonical("../etc/passwd", out), -1);
    assert_int_equal(zone_canonical("", out), -1);
}

static void test_when(void **state)
{
    const time_t now = BERLIN_SPRING + 12 * H;
    static const struct {
        long ago;
        const char *want;
    } cases[] = {
        {-5 * M, "now"},
        {0, "now"},
        {59, "now"},
        {60, "1m"},
        {3 * M + 59, "3m"},
        {H - 1, "59m"},
        {H, "1h"},
        {5 * H + 1, "5h"},
        {24 * H - 1, "23h"},
        {24 * H, "1d"},
        {7 * 24 * H - 1, "6d"},
    };
    char out[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zone_when("Europe/Berlin", now - cases[i].ago, now, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%ld s ago: %s, expected %s", cases[i].ago, out,
                     cases[i].want);
    }
    /* Past a week, the date of t where the reader lives: 23:30 UTC on
     * 2026-03-01 is already the 2nd in Berlin. */
    zone_when("Europe/Berlin", 1772407800, now, out, sizeof(out));
    assert_string_equal(out, "2026-03-02");
    zone_when("", 1772407800, now, out, sizeof(out));
    assert_string_equal(out, "2026-03-01");
    zone_when("Mars/Olympus", 1772407800, now, out, sizeof(out));
    assert_string_equal(out, "2026-03-01");
}

static void test_quiet_across_midnight(void **state)
{
    const time_t day = BERLIN_SPRING - 7 * 24 * H; /* 2026-03-22, UTC */
    const int from = minutes(23, 0), to = minutes(7, 0);
    time_t ends;

    (void)state;
    assert_false(zone_quiet("UTC", from, to, day + 22 * H + 59 * M, &ends));
    assert_int_equal(ends, 0);
    assert_true(zone_quiet("UTC", from, to, day + 23 * H, &ends));
    assert_int_equal(ends, day + 31 * H);
    assert_true(zone_quiet("UTC", from, to, day + 3 * H, &ends));
    assert_int_equal(ends, day + 7 * H);
    assert_true(zone_quiet("UTC", from, to, day + 6 * H + 59 * M + 59, &ends));
    assert_int_equal(ends, day + 7 * H);
    assert_false(zone_quiet("UTC", from, to, day + 7 * H, &ends));
    /* Within a day, in Berlin (UTC+1 in March): 09:00-17:00 local. */
    assert_false(zone_quiet("Europe/Berlin", minutes(9, 0), minutes(17, 0),
                            day + 7 * H + 59 * M, &ends));
    assert_true(zone_quiet("Europe/Berlin", minutes(9, 0), minutes(17, 0),
                           day + 8 * H, &ends));
    assert_int_equal(ends, day + 16 * H);
    /* An empty window and minutes out of range are never quiet. */
    assert_false(zone_quiet("UTC", 60, 60, day + 60 * M, &ends));
    assert_false(zone_quiet("UTC", -1, 60, day, &ends));
    assert_false(zone_quiet("UTC", 0, 24 * 60, day, &ends));
    assert_false(zone_quiet("UTC", 23 * 60, 7 * 60, day + 12 * H, NULL));
}

static void test_quiet_across_dst(void **state)
{
    time_t ends;

    (void)state;
    /* Spring: 01:30 CET, quiet until 03:00, which comes 30 min later. */
    assert_true(zone_quiet("Europe/Berlin", minutes(1, 0), minutes(3, 0),
                           BERLIN_SPRING + 30 * M, &ends));
    assert_int_equal(ends, BERLIN_SPRING + 1 * H);
    /* Until 02:30, a time that does not exist that night: over at the
     * jump. */
    assert_true(zone_quiet("Europe/Berlin", minutes(1, 0), minutes(2, 30),
                           BERLIN_SPRING + 30 * M, &ends));
    assert_int_equal(ends, BERLIN_SPRING + 1 * H);
    /* 22:00-03:30 from 23:00 CET: the jump stays inside, 03:30 CEST. */
    assert_true(zone_quiet("Europe/Berlin", minutes(22, 0), minutes(3, 30),
                           BERLIN_SPRING - 2 * H, &ends));
    assert_int_equal(ends, BERLIN_SPRING + 1 * H + 30 * M);
    /* Autumn: 01:30 CEST, quiet until 02:30 CEST (the first one). */
    assert_true(zone_quiet("Europe/Berlin", minutes(1, 0), minutes(2, 30),
                           BERLIN_FALL - 30 * M, &ends));
    assert_int_equal(ends, BERLIN_FALL + 30 * M);
    /* 02:10 CET, the hour again: quiet again until 02:30 CET. */
    assert_true(zone_quiet("Europe/Berlin", minutes(1, 0), minutes(2, 30),
                           BERLIN_FALL + 1 * H + 10 * M, &ends));
    assert_int_equal(ends, BERLIN_FALL + 1 * H + 30 * M);
    /* 02:30-04:00 at 02:45 CEST: the clock falls back to 02:00, outside
     * the hours: over at the change. */
    assert_true(zone_quiet("Europe/Berlin", minutes(2, 30), minutes(4, 0),
                           BERLIN_FALL + 45 * M, &ends));
    assert_int_equal(ends, BERLIN_FALL + 1 * H);
    /* New York, 22:00-02:30 EST from 22:00: 02:30 is skipped. */
    assert_true(zone_quiet("America/New_York", minutes(22, 0), minutes(2, 30),
                           NY_SPRING + 3 * H, &ends));
    assert_int_equal(ends, NY_SPRING + 7 * H);
    /* Lord Howe's half-hour change: 01:00-02:15 skips to 02:30. */
    assert_true(zone_quiet("Australia/Lord_Howe", minutes(1, 0), minutes(2, 15),
                           LH_SPRING + 15 * H, &ends));
    assert_int_equal(ends, LH_SPRING + 15 * H + 30 * M);
}

static void test_quiet_invalid_zone_is_utc(void **state)
{
    const time_t t = BERLIN_SPRING - 7 * 24 * H + 23 * H + 30 * M;
    time_t a, b;

    (void)state;
    assert_true(zone_quiet("UTC", minutes(23, 0), minutes(7, 0), t, &a));
    assert_true(
        zone_quiet("Mars/Olympus", minutes(23, 0), minutes(7, 0), t, &b));
    assert_int_equal(a, b);
    assert_true(
        zone_quiet("../../etc/passwd", minutes(23, 0), minutes(7, 0), t, &b));
    assert_int_equal(a, b);
    assert_true(zone_quiet(NULL, minutes(23, 0), minutes(7, 0), t, &b));
    assert_int_equal(a, b);
    /* Berlin is an hour ahead: 00:30 there, still quiet, ends earlier. */
    assert_true(
        zone_quiet("Europe/Berlin", minutes(23, 0), minutes(7, 0), t, &b));
    assert_int_equal(b, a - 1 * H);
}

static void test_next(void **state)
{
    (void)state;
    /* 08:00 Berlin after noon UTC on the 28th: the 29th, in CEST. */
    assert_int_equal(
        zone_next("Europe/Berlin", minutes(8, 0), BERLIN_SPRING - 12 * H),
        BERLIN_SPRING + 6 * H);
    /* 02:30 does not exist on the 29th: the instant of the jump. */
    assert_int_equal(zone_next("Europe/Berlin", minutes(2, 30), BERLIN_SPRING),
                     BERLIN_SPRING + 1 * H);
    /* 03:00 is the jump itself. */
    assert_int_equal(zone_next("Europe/Berlin", minutes(3, 0), BERLIN_SPRING),
                     BERLIN_SPRING + 1 * H);
    /* Strictly after now: at 08:00 sharp, the next day's. */
    assert_int_equal(zone_next("UTC", minutes(8, 0), BERLIN_SPRING + 8 * H),
                     BERLIN_SPRING + 32 * H);
    assert_int_equal(
        zone_next("Australia/Lord_Howe", minutes(2, 15), LH_SPRING + 15 * H),
        LH_SPRING + 15 * H + 30 * M);
    assert_int_equal(zone_next("UTC", 24 * 60, BERLIN_SPRING), 0);
}

static void test_tz_left_alone(void **state)
{
    struct tm tm;
    time_t ends, t = BERLIN_SPRING + 12 * H;
    char out[16];

    (void)state;
    setenv("TZ", "America/New_York", 1);
    tzset();
    zone_quiet("Asia/Kathmandu", 0, 60, t, &ends);
    zone_local("Europe/Berlin", t, &tm);
    assert_int_equal(tm.tm_gmtoff, 2 * H);
    zone_when("Asia/Tokyo", t - 30 * 24 * H, t, out, sizeof(out));
    assert_string_equal(getenv("TZ"), "America/New_York");
    localtime_r(&t, &tm);
    assert_int_equal(tm.tm_gmtoff, -4 * H);
    unsetenv("TZ");
    tzset();
    zone_next("Asia/Kathmandu", 0, t);
    assert_null(getenv("TZ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_when),
        cmocka_unit_test(test_quiet_across_midnight),
        cmocka_unit_test(test_quiet_across_dst),
        cmocka_unit_test(test_quiet_invalid_zone_is_utc),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_tz_left_alone),
    };

    return cmocka_run_group_tests_name("zone", tests, NULL, NULL);
}
