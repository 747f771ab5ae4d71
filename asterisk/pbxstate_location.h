/*
 * The PBXSTATE_LOCATION(aor[,field]) dialplan function (pbxstate_location.c).
 */
#ifndef PBXSTATE_LOCATION_H
#define PBXSTATE_LOCATION_H

/* 0, or -1 when Asterisk refused it. */
int pbxstate_location_register(void);
void pbxstate_location_unregister(void);

#endif
