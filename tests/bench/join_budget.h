/*
 * join_budget.h - forced into bot/main.c for build/starling-join, the bot
 * that make bench's join cases run: every load client is a user of one
 * server domain (localhost), and the stock budget approves 30
 * subscription requests a minute per domain (README, "Subscription
 * budgets"), which would make joining 20,000 users a matter of eleven
 * hours.  Everything else is the shipped bot.
 */
#include "budget.h"

#undef SUBS_PER_DOMAIN_MINUTE
#define SUBS_PER_DOMAIN_MINUTE 1000000000
