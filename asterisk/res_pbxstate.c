/*
 * res_pbxstate: shares device state and MWI between Asterisk servers over Corosync CPG, with the
 * pbxstate engine, and shares PJSIP registrations for PBXSTATE_LOCATION() (asterisk/README.md).
 *
 * This file is the module's life cycle: load (configuration, node, stasis subscriptions, CLI),
 * reload (live settings applied in place, the others by restarting the node) and unload
 * (subscriptions first, so that nothing feeds a node being stopped; then the node, which clears
 * what it published into Asterisk's caches).
 */

/*** MODULEINFO
	<support_level>extended</support_level>
 ***/

#include "asterisk.h"

#include "asterisk/logger.h"
#include "asterisk/module.h"
#include "asterisk/utils.h"

#include "pbxstate_cli.h"
#include "pbxstate_location.h"
#include "pbxstate_node.h"
#include "pbxstate_settings.h"
#include "pbxstate_stasis.h"

/* The settings the node runs with (compared on reload). Touched only by load/reload/unload,
 * which Asterisk serialises. */
static struct pbxstate_settings running;

static int load_module(void)
{
	struct pbxstate_settings s;

	if (ast_eid_is_empty(&ast_eid_default)) {
		ast_log(LOG_ERROR, "pbxstate: this server has no Entity ID; set entityid in asterisk.conf\n");
		return AST_MODULE_LOAD_DECLINE;
	}
	pbxstate_settings_init(&s);
	if (pbxstate_settings_load(&s)) {
		return AST_MODULE_LOAD_DECLINE;
	}
	if (pbxstate_node_start(&s)) {
		pbxstate_settings_free(&s);
		return AST_MODULE_LOAD_DECLINE;
	}
	pbxstate_settings_init(&running);
	running = s;  /* takes over the compiled filters */
	if (pbxstate_stasis_subscribe()) {
		pbxstate_node_stop();
		pbxstate_settings_free(&running);
		return AST_MODULE_LOAD_DECLINE;
	}
	pbxstate_node_request_resync();
	if (pbxstate_cli_register()) {
		ast_log(LOG_WARNING, "pbxstate: some CLI commands could not be registered\n");
	}
	if (pbxstate_location_register()) {
		ast_log(LOG_WARNING, "pbxstate: the PBXSTATE_LOCATION function could not be registered\n");
	}
	return AST_MODULE_LOAD_SUCCESS;
}

static int unload_module(void)
{
	pbxstate_location_unregister();
	pbxstate_cli_unregister();
	pbxstate_stasis_unsubscribe();
	pbxstate_node_stop();
	pbxstate_settings_free(&running);
	return 0;
}

static int reload_module(void)
{
	struct pbxstate_settings s;

	pbxstate_settings_init(&s);
	if (pbxstate_settings_load(&s)) {
		ast_log(LOG_ERROR, "pbxstate: %s not reloaded; the running configuration stays\n", PBXSTATE_CONFIG_FILE);
		return -1;
	}
	if (pbxstate_settings_need_restart(&running, &s)) {
		ast_log(LOG_NOTICE, "pbxstate: group, route, batch window, grace, anti-entropy or queue size changed; "
			"restarting the cluster node\n");
		pbxstate_stasis_unsubscribe();
		pbxstate_node_stop();
		if (pbxstate_node_start(&s)) {
			ast_log(LOG_ERROR, "pbxstate: the node did not restart with the new configuration; "
				"restarting it with the previous one\n");
			pbxstate_settings_free(&s);
			if (pbxstate_node_start(&running)) {
				ast_log(LOG_ERROR, "pbxstate: the node is stopped; fix %s and reload\n", PBXSTATE_CONFIG_FILE);
			}
			pbxstate_stasis_subscribe();
			pbxstate_node_request_resync();
			return -1;
		}
		pbxstate_stasis_subscribe();
		pbxstate_node_request_resync();
	} else if (pbxstate_node_reconfigure(&s)) {
		pbxstate_settings_free(&s);
		return -1;
	}
	pbxstate_settings_free(&running);
	running = s;
	return 0;
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_LOAD_ORDER, "pbxstate: cluster device state, MWI and registrations over Corosync",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.reload = reload_module,
	.load_pri = AST_MODPRI_DEVSTATE_PLUGIN,
);
