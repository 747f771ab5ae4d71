/*
 * The C API as a host of the table of engine settings (engine_settings.h): pbxstate_config's
 * generated fields and the view pbxstate_setting_at(). For every setting, from the permissive
 * configuration: min and max are accepted by pbxstate_config_set and by pbxstate_engine_create;
 * one below min and one above max are refused by both, create naming the field. Built as C99
 * with -pedantic: the generated struct is valid C.
 *
 * Exit status 0 when every check passed; each failed check prints its line.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pbxstate/c_api.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, setting)                                                                   \
  do {                                                                                         \
    ++g_checks;                                                                                \
    if (!(cond)) {                                                                             \
      ++g_failures;                                                                            \
      fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__, __LINE__, (setting), #cond); \
    }                                                                                          \
  } while (0)

static int64_t zero_ns(void* user) { (void) user; return 0; }
static void no_wakeup(void* user, int64_t at) { (void) user; (void) at; }
static int no_broadcast(void* user, const uint8_t* f, size_t n) { (void) user; (void) f; (void) n; return PBXSTATE_SEND_OK; }
static int no_unicast(void* user, pbxstate_node_id to, const uint8_t* f, size_t n) {
  (void) user; (void) to; (void) f; (void) n;
  return PBXSTATE_SEND_OK;
}
static uint64_t four(void* user) { (void) user; return 4; }

/* Creates an engine from `cfg`: PBXSTATE_OK, or the error code with the reason in err. */
static int create(const pbxstate_config* cfg, char* err, size_t err_len) {
  pbxstate_env env;
  pbxstate_engine* engine = NULL;
  int rc;
  memset(&env, 0, sizeof env);
  env.now_ns = zero_ns;
  env.wall_now_ns = zero_ns;
  env.schedule_wakeup = no_wakeup;
  env.broadcast = no_broadcast;
  env.unicast = no_unicast;
  env.random = four;
  rc = pbxstate_engine_create(cfg, &env, &engine, err, err_len);
  pbxstate_engine_destroy(engine);
  return rc;
}

/* The field of setting `index`, written directly (no range check), as a C host's code would. */
static void poke(pbxstate_config* cfg, size_t index, uint64_t value) {
  memcpy((char*) cfg + pbxstate_setting_at(index)->offset, &value, sizeof value);
}

int main(void) {
  const size_t n = pbxstate_setting_count();
  pbxstate_config defaults;
  size_t i;
  char err[256];

  pbxstate_config_init(&defaults);
  CHECK(n > 0, "table");
  CHECK(pbxstate_setting_at(n) == NULL, "table");
  CHECK(pbxstate_setting_find("batch_window_ms", 15) == 0, "batch_window_ms");
  CHECK(pbxstate_setting_find("batch_window", 12) == -1, "batch_window");
  CHECK(pbxstate_config_set(NULL, 0, 0) == PBXSTATE_E_INVALID_ARGUMENT, "table");
  CHECK(pbxstate_config_set(&defaults, n, 0) == PBXSTATE_E_INVALID_ARGUMENT, "table");
  {
    pbxstate_config permissive;
    pbxstate_config_permissive(&permissive);
    CHECK(create(&permissive, err, sizeof err) == PBXSTATE_OK, err);
    /* validate fills node_id and incarnation as start-up would; the rules between settings hold */
    permissive.node_id = 0;
    permissive.incarnation = 0;
    CHECK(pbxstate_config_validate(&permissive, err, sizeof err) == PBXSTATE_OK, err);
    permissive.max_frame_bytes = 256;
    permissive.max_key_bytes = 1024;
    CHECK(pbxstate_config_validate(&permissive, err, sizeof err) == PBXSTATE_E_INVALID_ARGUMENT, "max_frame_bytes");
    CHECK(strstr(err, "too small for one record") != NULL, err);
    CHECK(pbxstate_config_validate(NULL, err, sizeof err) == PBXSTATE_E_INVALID_ARGUMENT, "NULL");
  }
  for (i = 0; i < n; ++i) {
    const pbxstate_setting* s = pbxstate_setting_at(i);
    const char* key = s->key;
    uint64_t values[2];
    uint64_t outside[2];
    size_t v, outside_count = 0;

    CHECK(s->name != NULL && s->key != NULL && s->unit_name != NULL && s->doc != NULL, "view");
    CHECK(strncmp(s->key, s->name, strlen(s->name)) == 0, key);
    CHECK(s->unit == PBXSTATE_UNIT_MS ? strcmp(s->unit_name, "ms") == 0 : strcmp(s->unit_name, "ms") != 0, key);
    CHECK(pbxstate_setting_find(key, strlen(key)) == (int) i, key);
    CHECK(s->min <= s->default_value && s->default_value <= s->max, key);
    CHECK(pbxstate_config_get(&defaults, i) == s->default_value, key);

    values[0] = s->min;
    values[1] = s->max;
    for (v = 0; v < 2; ++v) {
      pbxstate_config cfg;
      pbxstate_config_permissive(&cfg);
      CHECK(pbxstate_config_set(&cfg, i, values[v]) == PBXSTATE_OK, key);
      CHECK(pbxstate_config_get(&cfg, i) == values[v], key);
      CHECK(create(&cfg, err, sizeof err) == PBXSTATE_OK, key);
      if (create(&cfg, err, sizeof err) != PBXSTATE_OK) fprintf(stderr, "  %s = %llu: %s\n", key, (unsigned long long) values[v], err);
      CHECK(pbxstate_config_validate(&cfg, err, sizeof err) == PBXSTATE_OK, key);
    }
    outside[outside_count++] = s->max + 1;
    if (s->min > 0) outside[outside_count++] = s->min - 1;
    for (v = 0; v < outside_count; ++v) {
      pbxstate_config cfg;
      pbxstate_config_permissive(&cfg);
      CHECK(pbxstate_config_set(&cfg, i, outside[v]) == PBXSTATE_E_INVALID_ARGUMENT, key);
      CHECK(pbxstate_config_get(&cfg, i) == s->permissive, key); /* unchanged */
      poke(&cfg, i, outside[v]);
      CHECK(pbxstate_config_get(&cfg, i) == outside[v], key);
      CHECK(create(&cfg, err, sizeof err) == PBXSTATE_E_INVALID_ARGUMENT, key);
      CHECK(strncmp(err, key, strlen(key)) == 0 && strstr(err, "must be within") != NULL, key);
      {
        char verdict[256];
        CHECK(pbxstate_config_validate(&cfg, verdict, sizeof verdict) == PBXSTATE_E_INVALID_ARGUMENT, key);
        CHECK(strcmp(verdict, err) == 0, key); /* the same words as create */
      }
    }
  }
  printf("%d checks over %u settings, %d failed\n", g_checks, (unsigned) n, g_failures);
  return g_failures == 0 ? 0 : 1;
}
