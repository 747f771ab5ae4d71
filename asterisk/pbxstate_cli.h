/*
 * res_pbxstate's CLI commands (pbxstate_cli.c): registered at load, unregistered at unload.
 */
#ifndef PBXSTATE_CLI_H
#define PBXSTATE_CLI_H

/* 0, or -1 when Asterisk refused a command. */
int pbxstate_cli_register(void);
void pbxstate_cli_unregister(void);

#endif
