/*
 * res_pbxstate's readers of Asterisk's device state, MWI and endpoint topics (pbxstate_stasis.c:
 * device states in the publishing thread, the rest through subscriptions): every change whose EID
 * is this server's own goes to the node's inbox (device states, MWI, PJSIP contact states);
 * changes published under another EID (by this module, for the other servers) and Asterisk's
 * aggregates never go back to the cluster.
 */
#ifndef PBXSTATE_STASIS_H
#define PBXSTATE_STASIS_H

/* Subscribes to the three topics (and taps device states). 0, or -1 (nothing left subscribed)
 * after logging. */
int pbxstate_stasis_subscribe(void);

/* Unsubscribes and waits until no callback runs any more. Safe when not subscribed. */
void pbxstate_stasis_unsubscribe(void);

#endif
