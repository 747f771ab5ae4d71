// The contract of c_api.h beyond the happy path (which capi_cluster_test.c covers from C):
// defaults and names agree with the C++ API, arguments are checked, re-entrancy is refused,
// send statuses map as documented, and no exception (out of memory) crosses the C boundary.
// Cluster keys: capi_auth_test.cc; the C++ twin: capi_twin_test.cc (same executable).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <set>
#include <string>
#include <vector>

#include "pbxstate/c_api.h"
#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/stats.h"
#include "pbxstate/types.h"
#include "capi_test_host.h"

// ---- an operator new that fails on demand, to drive the bad_alloc paths ----
namespace {
// Allocations left before operator new starts throwing; negative: never fail.
long g_allocations_until_failure = -1;
}  // namespace

namespace {
// Not inlined into the delete operators: GCC would otherwise see free() applied to the result
// of operator new and warn (-Wmismatched-new-delete), not knowing both are replaced here.
[[gnu::noinline]] void RawFree(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t size) {
  if (g_allocations_until_failure == 0) throw std::bad_alloc();
  if (g_allocations_until_failure > 0) --g_allocations_until_failure;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
// The nothrow forms too (std::stable_sort's buffer uses them): every form must pair with the
// deletes below.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { RawFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { RawFree(p); }
void operator delete(void* p) noexcept { RawFree(p); }
void operator delete[](void* p) noexcept { RawFree(p); }
void operator delete(void* p, std::size_t) noexcept { RawFree(p); }
void operator delete[](void* p, std::size_t) noexcept { RawFree(p); }

namespace {

using pbxstate_capi_test::Host;
using pbxstate_capi_test::TestConfig;

// Restores normal allocation at the end of a scope, even when an assertion returns early.
struct FailAllocationsAfter {
  explicit FailAllocationsAfter(long n) { g_allocations_until_failure = n; }
  ~FailAllocationsAfter() { g_allocations_until_failure = -1; }
};

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    const pbxstate_config cfg = TestConfig();
    const pbxstate_env env = host_.Env();
    char err[128];
    ASSERT_EQ(pbxstate_engine_create(&cfg, &env, &engine_, err, sizeof err), PBXSTATE_OK) << err;
    host_.engine = engine_;
    ASSERT_EQ(pbxstate_engine_start(engine_), PBXSTATE_OK);
    const pbxstate_node_id members[] = {1, 2};
    ASSERT_EQ(pbxstate_engine_on_membership(engine_, 1, members, 2), PBXSTATE_OK);
  }
  void TearDown() override { pbxstate_engine_destroy(engine_); }

  pbxstate_stats Stats() {
    pbxstate_stats s{};
    EXPECT_EQ(pbxstate_engine_stats(engine_, &s), PBXSTATE_OK);
    return s;
  }

  Host host_;
  pbxstate_engine* engine_ = nullptr;
};

TEST(CApiStatic, ConfigInitCarriesTheEngineDefaults) {
  const pbxstate::EngineConfig d;
  pbxstate_config c;
  std::memset(&c, 0xAB, sizeof c);  // every field must be written
  pbxstate_config_init(&c);
  auto ms = [](pbxstate::Duration x) { return static_cast<std::uint64_t>(x / std::chrono::milliseconds(1)); };
  EXPECT_EQ(c.node_id, 0u);
  EXPECT_EQ(c.incarnation, 0u);
  EXPECT_EQ(c.label, nullptr);
  EXPECT_EQ(c.membership, PBXSTATE_MEMBERSHIP_HEARTBEAT);
  EXPECT_EQ(d.membership, pbxstate::MembershipSource::kHeartbeat);
  // Every setting, through the table (engine_settings.h) and the C view of it.
  ASSERT_EQ(pbxstate_setting_count(), pbxstate::EngineSettings().size());
  for (std::size_t i = 0; i < pbxstate_setting_count(); ++i) {
    const pbxstate::EngineSetting& row = pbxstate::EngineSettings()[i];
    const std::uint64_t expected = row.is_duration() ? ms(d.*row.duration) : d.*row.size;
    EXPECT_EQ(pbxstate_config_get(&c, i), expected) << row.key;
    EXPECT_EQ(pbxstate_setting_at(i)->default_value, expected) << row.key;
    EXPECT_EQ(std::string(pbxstate_setting_at(i)->key), row.key);
  }
  EXPECT_EQ(c.cluster_keys.key, nullptr);
  EXPECT_EQ(c.cluster_keys.key_len, 0u);
  EXPECT_EQ(c.cluster_keys.previous, nullptr);
  EXPECT_EQ(c.cluster_keys.previous_len, 0u);
  EXPECT_TRUE(d.cluster_keys.empty());
  EXPECT_EQ(c.node_sites, nullptr);
  EXPECT_TRUE(d.node_sites.empty());
  // Spot values from config.h, so that a unit slip (s vs ms) in the conversion shows.
  EXPECT_EQ(c.anti_entropy_interval_ms, 1000u);
  EXPECT_EQ(c.max_registration_ttl_ms, 24u * 3600u * 1000u);
}

// Counts an aggregate's fields: the largest N for which T{any, ..., any} (N of them) compiles.
struct AnyField {
  template <typename T>
  operator T() const;  // declared only: used in unevaluated contexts
};
template <typename T, typename... Fields>
constexpr std::size_t CountFields() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; }) {
    return CountFields<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}

// Catches EngineConfig growing a field that the C config does not carry (as join_digest_holdoff
// and max_clock_skew once did, and node_sites until it got its text form): a C host could then
// not set it.
TEST(CApiStatic, ConfigHasAFieldForEveryEngineConfigField) {
  EXPECT_EQ(CountFields<pbxstate_config>(), CountFields<pbxstate::EngineConfig>())
      << "EngineConfig and pbxstate_config differ in field count: map the new field in c_api.h/c_api_config.cc";
}

// The site map (pbxstate_config's node_sites, the text form of pbxstate/site_map.h) reaches the
// engine: with one relay per site, a change goes once to each remote site's relay (its lowest-id
// node) and, from this node as its own site's relay, to its site-mates; never as a broadcast.
struct SitesHost : Host {
  std::vector<pbxstate_node_id> unicast_to;
  int broadcasts = 0;
  static int CountBroadcast(void* u, const std::uint8_t* f, std::size_t n) {
    static_cast<SitesHost*>(static_cast<Host*>(u))->broadcasts++;
    return Host::Broadcast(u, f, n);
  }
  static int RecordUnicast(void* u, pbxstate_node_id to, const std::uint8_t* f, std::size_t n) {
    static_cast<SitesHost*>(static_cast<Host*>(u))->unicast_to.push_back(to);
    return Host::Broadcast(u, f, n);
  }
};

void ChangeOnNineNodes(const char* node_sites, SitesHost* host) {
  pbxstate_config cfg = TestConfig(1);
  cfg.relays_per_site = 1;
  cfg.node_sites = node_sites;
  pbxstate_env env = host->Env();
  env.user = static_cast<Host*>(host);
  env.broadcast = SitesHost::CountBroadcast;
  env.unicast = SitesHost::RecordUnicast;
  pbxstate_engine* engine = nullptr;
  char err[256];
  ASSERT_EQ(pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err), PBXSTATE_OK) << err;
  host->engine = engine;
  ASSERT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);
  const pbxstate_node_id members[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_EQ(pbxstate_engine_on_membership(engine, 1, members, 9), PBXSTATE_OK);
  host->unicast_to.clear();
  host->broadcasts = 0;
  ASSERT_EQ(pbxstate_engine_set_device_state(engine, "d", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  pbxstate_engine_destroy(engine);
}

TEST(CApiSites, TheSiteMapReachesTheEngine) {
  SitesHost with_map;
  ChangeOnNineNodes("1-3:0, 4-6:1, 7-9:2", &with_map);
  EXPECT_EQ(with_map.broadcasts, 0);
  EXPECT_EQ(std::multiset<pbxstate_node_id>(with_map.unicast_to.begin(), with_map.unicast_to.end()),
            (std::multiset<pbxstate_node_id>{2, 3, 4, 7}));
  // Without a map every node is a site of its own: the change is one broadcast.
  for (const char* none : {static_cast<const char*>(nullptr), ""}) {
    SitesHost no_map;
    ChangeOnNineNodes(none, &no_map);
    EXPECT_EQ(no_map.broadcasts, 1);
    EXPECT_TRUE(no_map.unicast_to.empty());
  }
}

TEST(CApiSites, ABadSiteMapIsRefusedNamingTheFieldAndItem) {
  Host host;
  const pbxstate_env env = host.Env();
  pbxstate_config cfg = TestConfig(1);
  cfg.relays_per_site = 1;
  char err[256];
  pbxstate_engine* engine = nullptr;
  cfg.node_sites = "1-3:0, 4-x:1";
  EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(engine, nullptr);
  EXPECT_STREQ(err, "node_sites: item 2 ('4-x:1'): a range's last node id is a number from 1 to 4294967294");
  EXPECT_EQ(pbxstate_config_validate(&cfg, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_STREQ(err, "node_sites: item 2 ('4-x:1'): a range's last node id is a number from 1 to 4294967294");
  EXPECT_EQ(pbxstate_site_map_check(cfg.node_sites, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_STREQ(err, "item 2 ('4-x:1'): a range's last node id is a number from 1 to 4294967294");
  // A map without this node, with relays: the engine's own rule.
  cfg.node_sites = "2-3:0";
  EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("EngineConfig.node_sites"), std::string::npos) << err;
  // Before start-up a host has no node id: validate checks as the map's first node.
  cfg.node_id = PBXSTATE_NO_NODE;
  EXPECT_EQ(pbxstate_config_validate(&cfg, err, sizeof err), PBXSTATE_OK) << err;
  EXPECT_EQ(pbxstate_site_map_check("2-3:0", err, sizeof err), PBXSTATE_OK);
  EXPECT_STREQ(err, "");
  EXPECT_EQ(pbxstate_site_map_check(nullptr, err, sizeof err), PBXSTATE_OK);
  // Text beyond the bound is refused without reading past it.
  const std::string long_text(PBXSTATE_SITE_MAP_MAX_TEXT_BYTES + 10, ' ');
  EXPECT_EQ(pbxstate_site_map_check(long_text.c_str(), err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_STREQ(err, "longer than 131072 bytes");
}

TEST(CApiStatic, NamesAgreeWithTheCppApi) {
  for (int i = 0; i < PBXSTATE_DEVICE_STATE_COUNT; ++i) {
    ASSERT_NE(pbxstate_device_state_name(i), nullptr);
    EXPECT_EQ(std::string(pbxstate_device_state_name(i)),
              std::string(pbxstate::DeviceStateName(static_cast<pbxstate::DeviceState>(i))));
    const char* name = pbxstate_device_state_name(i);
    EXPECT_EQ(pbxstate_device_state_parse(name, std::strlen(name)), i);
  }
  EXPECT_EQ(pbxstate_device_state_name(-1), nullptr);
  EXPECT_EQ(pbxstate_device_state_name(PBXSTATE_DEVICE_STATE_COUNT), nullptr);
  EXPECT_EQ(pbxstate_device_state_parse("ringinuse", 9), PBXSTATE_DEVICE_RINGINUSE);
  EXPECT_EQ(pbxstate_device_state_parse("INUSE_", 6), PBXSTATE_DEVICE_NONE);
  EXPECT_EQ(pbxstate_device_state_parse("INUSE", 2), PBXSTATE_DEVICE_NONE);  // the length counts, not the NUL
  EXPECT_EQ(pbxstate_device_state_parse(nullptr, 0), PBXSTATE_DEVICE_NONE);
  EXPECT_EQ(pbxstate_device_state_parse(nullptr, 5), PBXSTATE_DEVICE_NONE);

  for (int i = 0; i < 5; ++i) {
    ASSERT_NE(pbxstate_change_cause_name(i), nullptr);
    EXPECT_EQ(std::string(pbxstate_change_cause_name(i)),
              std::string(pbxstate::ChangeCauseName(static_cast<pbxstate::ChangeCause>(i))));
  }
  EXPECT_EQ(pbxstate_change_cause_name(5), nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(pbxstate_entry_kind_name(i), nullptr);
    EXPECT_EQ(std::string(pbxstate_entry_kind_name(i)),
              std::string(pbxstate::EntryKindName(static_cast<pbxstate::EntryKind>(i))));
  }
  EXPECT_EQ(pbxstate_entry_kind_name(3), nullptr);
  for (int i = 0; i < PBXSTATE_DROP_REASON_COUNT; ++i) {
    ASSERT_NE(pbxstate_drop_reason_name(i), nullptr);
    EXPECT_EQ(std::string(pbxstate_drop_reason_name(i)),
              std::string(pbxstate::DropReasonName(static_cast<pbxstate::DropReason>(i))));
  }
  EXPECT_EQ(pbxstate_drop_reason_name(-1), nullptr);
  EXPECT_EQ(pbxstate_drop_reason_name(PBXSTATE_DROP_REASON_COUNT), nullptr);
}

TEST(CApiStatic, StrerrorIsDistinctForEveryCode) {
  std::set<std::string> seen;
  for (int rc = PBXSTATE_OK; rc <= PBXSTATE_E_INTERNAL; ++rc) {
    const std::string s = pbxstate_strerror(rc);
    EXPECT_NE(s, "unknown error") << rc;
    EXPECT_TRUE(seen.insert(s).second) << "duplicate text for " << rc;
  }
  EXPECT_STREQ(pbxstate_strerror(-1), "unknown error");
  EXPECT_STREQ(pbxstate_strerror(PBXSTATE_E_INTERNAL + 1), "unknown error");
}

TEST(CApiCreate, RefusesMissingCallbacksAndNamesThem) {
  Host host;
  const pbxstate_config cfg = TestConfig();
  struct Case {
    const char* name;
    void (*clear)(pbxstate_env*);
  };
  const Case cases[] = {
      {"now_ns", [](pbxstate_env* e) { e->now_ns = nullptr; }},
      {"wall_now_ns", [](pbxstate_env* e) { e->wall_now_ns = nullptr; }},
      {"schedule_wakeup", [](pbxstate_env* e) { e->schedule_wakeup = nullptr; }},
      {"broadcast", [](pbxstate_env* e) { e->broadcast = nullptr; }},
      {"unicast", [](pbxstate_env* e) { e->unicast = nullptr; }},
      {"random", [](pbxstate_env* e) { e->random = nullptr; }},
  };
  for (const Case& c : cases) {
    pbxstate_env env = host.Env();
    c.clear(&env);
    pbxstate_engine* e = reinterpret_cast<pbxstate_engine*>(&host);  // must be overwritten with NULL
    char err[128];
    EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &e, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT) << c.name;
    EXPECT_EQ(e, nullptr);
    EXPECT_NE(std::string(err).find(c.name), std::string::npos) << err;
  }
  // log is optional.
  pbxstate_env env = host.Env();
  env.log = nullptr;
  pbxstate_engine* e = nullptr;
  ASSERT_EQ(pbxstate_engine_create(&cfg, &env, &e, nullptr, 0), PBXSTATE_OK);
  pbxstate_engine_destroy(e);
  // NULL arguments.
  env = host.Env();
  EXPECT_EQ(pbxstate_engine_create(nullptr, &env, &e, nullptr, 0), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_create(&cfg, nullptr, &e, nullptr, 0), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_create(&cfg, &env, nullptr, nullptr, 0), PBXSTATE_E_INVALID_ARGUMENT);
}

TEST(CApiCreate, RefusesBadConfigurationWithTheFieldName) {
  Host host;
  const pbxstate_env env = host.Env();
  auto create_error = [&](const pbxstate_config& cfg, int* rc) {
    pbxstate_engine* e = nullptr;
    char err[256];
    *rc = pbxstate_engine_create(&cfg, &env, &e, err, sizeof err);
    pbxstate_engine_destroy(e);
    return std::string(err);
  };
  int rc = 0;
  pbxstate_config cfg = TestConfig();
  cfg.incarnation = 0;
  EXPECT_NE(create_error(cfg, &rc).find("incarnation"), std::string::npos);
  EXPECT_EQ(rc, PBXSTATE_E_INVALID_ARGUMENT);

  cfg = TestConfig();
  const std::string long_label(65, 'x');
  cfg.label = long_label.c_str();
  EXPECT_NE(create_error(cfg, &rc).find("label"), std::string::npos);
  EXPECT_EQ(rc, PBXSTATE_E_INVALID_ARGUMENT);

  cfg = TestConfig();
  cfg.membership = 7;
  EXPECT_NE(create_error(cfg, &rc).find("membership"), std::string::npos);
  EXPECT_EQ(rc, PBXSTATE_E_INVALID_ARGUMENT);

  // Milliseconds that do not fit the engine's nanosecond durations are refused, not wrapped.
  cfg = TestConfig();
  cfg.batch_window_ms = UINT64_MAX;
  EXPECT_NE(create_error(cfg, &rc).find("batch_window_ms"), std::string::npos);
  EXPECT_EQ(rc, PBXSTATE_E_INVALID_ARGUMENT);
  cfg = TestConfig();
  cfg.max_registration_ttl_ms = UINT64_MAX / 1000;
  EXPECT_NE(create_error(cfg, &rc).find("max_registration_ttl_ms"), std::string::npos);

  // The engine's own validation passes through (a negative-free check: frame size bounds).
  cfg = TestConfig();
  cfg.max_frame_bytes = 16;
  EXPECT_NE(create_error(cfg, &rc).find("max_frame_bytes"), std::string::npos);
  EXPECT_EQ(rc, PBXSTATE_E_INVALID_ARGUMENT);

  // The message is truncated to the buffer and stays NUL-terminated.
  cfg = TestConfig();
  cfg.node_id = 0;
  pbxstate_engine* e = nullptr;
  char small[5];
  std::memset(small, 'z', sizeof small);
  EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &e, small, sizeof small), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(std::strlen(small), 4u);
}

TEST_F(CApi, ChecksArguments) {
  int state = 0;
  std::size_t count = 0;
  pbxstate_mailbox_counts mc{};
  pbxstate_registration reg{};
  EXPECT_EQ(pbxstate_engine_set_device_state(nullptr, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, nullptr, 3, PBXSTATE_DEVICE_INUSE), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, 9), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, -1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(engine_)), "");
  // Empty and over-long keys are the engine's to refuse; the code and reason come through.
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, nullptr, 0, PBXSTATE_DEVICE_INUSE), PBXSTATE_E_INVALID_ARGUMENT);
  const std::string long_key(256, 'k');
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, long_key.data(), long_key.size(), PBXSTATE_DEVICE_INUSE),
            PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(engine_)), "");
  // A successful call clears the reason.
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  EXPECT_STREQ(pbxstate_engine_last_error(engine_), "");
  EXPECT_EQ(pbxstate_engine_remove_device(engine_, nullptr, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_device(engine_, "zz", 2), PBXSTATE_OK);  // not held: not an error
  EXPECT_EQ(pbxstate_engine_remove_device(engine_, "d", 1), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_device_state(engine_, "d", 1, &state), PBXSTATE_E_NOT_FOUND);
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);  // again

  EXPECT_EQ(pbxstate_engine_set_mailbox(engine_, "m", 1, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_set_mailbox(engine_, nullptr, 1, &mc), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_mailbox(engine_, nullptr, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_mailbox(engine_, nullptr, 0), PBXSTATE_E_INVALID_ARGUMENT);  // empty: the engine's
  EXPECT_EQ(pbxstate_engine_remove_mailbox(nullptr, "m", 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_mailbox(engine_, "zz", 2), PBXSTATE_OK);  // not held: not an error
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "a", 1, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  reg.contact = nullptr;
  reg.contact_len = 4;
  reg.expires_ns = Host::Wall(&host_) + 60'000'000'000;
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "a", 1, &reg), PBXSTATE_E_INVALID_ARGUMENT);
  reg.contact = "sip:a@h";
  reg.contact_len = 7;
  reg.status = 2;
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "a", 1, &reg), PBXSTATE_E_INVALID_ARGUMENT);
  reg.status = PBXSTATE_CONTACT_REACHABLE;
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "a", 1, &reg), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_remove_registration(engine_, nullptr, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_registration(engine_, "zz", 2), PBXSTATE_OK);  // not held: not an error
  EXPECT_EQ(pbxstate_engine_remove_contact(engine_, "zz", 2, nullptr, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_remove_contact(engine_, "zz", 2, "sip:z", 5), PBXSTATE_OK);  // not held

  EXPECT_EQ(pbxstate_engine_on_frame(engine_, 2, nullptr, 10), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_on_frame(engine_, 2, nullptr, 0), PBXSTATE_OK);  // an empty frame is dropped, counted
  EXPECT_EQ(pbxstate_engine_on_membership(engine_, 2, nullptr, 2), PBXSTATE_E_INVALID_ARGUMENT);
  const pbxstate_node_id with_zero[] = {0, 1};
  EXPECT_EQ(pbxstate_engine_on_membership(engine_, 2, with_zero, 2), PBXSTATE_E_INVALID_ARGUMENT);
  const pbxstate_node_id dup[] = {2, 1, 2, 1};
  EXPECT_EQ(pbxstate_engine_on_membership(engine_, 2, dup, 4), PBXSTATE_OK);

  EXPECT_EQ(pbxstate_engine_device_state(engine_, "d", 1, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_device_state(nullptr, "d", 1, &state), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_device_contributions(engine_, "d", 1, nullptr, 3, &count), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_device_contributions(engine_, "d", 1, nullptr, 0, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_members(engine_, nullptr, 0, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_mailbox(engine_, "m", 1, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_for_each_device(engine_, nullptr, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_for_each_mailbox(engine_, nullptr, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_for_each_registration(engine_, nullptr, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_stats(engine_, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_digest(engine_, nullptr), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_node_id(nullptr), PBXSTATE_NO_NODE);
  EXPECT_EQ(pbxstate_engine_incarnation(nullptr), 0u);
  EXPECT_STREQ(pbxstate_engine_last_error(nullptr), "");

  // Size queries: NULL buffer with capacity 0 reports the count.
  std::size_t len = 99;
  EXPECT_EQ(pbxstate_engine_node_label(engine_, 1, nullptr, 0, &len), PBXSTATE_E_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(pbxstate_engine_members(engine_, nullptr, 0, &count), PBXSTATE_E_BUFFER_TOO_SMALL);
  EXPECT_EQ(count, 2u);
  pbxstate_contribution c[1];
  EXPECT_EQ(pbxstate_engine_device_contributions(engine_, "d", 1, c, 1, &count), PBXSTATE_OK);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(c[0].node, 1u);
  EXPECT_EQ(c[0].state, PBXSTATE_DEVICE_INUSE);
  EXPECT_EQ(c[0].incarnation, 77u);
  EXPECT_EQ(pbxstate_engine_device_contributions(engine_, "nobody", 6, c, 1, &count), PBXSTATE_OK);
  EXPECT_EQ(count, 0u);
}

TEST_F(CApi, EnvCallbacksMayNotCallTheEngine) {
  host_.probe_from_env = true;
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  EXPECT_FALSE(host_.probe_from_env) << "the change was not broadcast at once";
  EXPECT_EQ(host_.env_query_rc, PBXSTATE_E_REENTRANT);
  EXPECT_EQ(host_.env_mutation_rc, PBXSTATE_E_REENTRANT);
  // The refused destroy was logged and the engine is alive and unchanged by the refused calls.
  bool logged = false;
  for (const auto& l : host_.logs) logged |= l.find("pbxstate_engine_destroy") != std::string::npos;
  EXPECT_TRUE(logged);
  int state = -2;
  EXPECT_EQ(pbxstate_engine_device_state(engine_, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_INUSE);
  EXPECT_EQ(pbxstate_engine_device_state(engine_, "e", 1, &state), PBXSTATE_E_NOT_FOUND);
}

TEST_F(CApi, SendStatusesMapAsDocumented) {
  // TRY_AGAIN: nothing sent, counted, retried after send_retry_interval (10 ms).
  host_.broadcast_answer = PBXSTATE_SEND_TRY_AGAIN;
  host_.sent.clear();  // start-up and join frames
  const pbxstate_stats before = Stats();
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  EXPECT_GT(Stats().send_try_again, before.send_try_again);
  EXPECT_TRUE(host_.sent.empty());
  host_.broadcast_answer = PBXSTATE_SEND_OK;
  ASSERT_TRUE(host_.has_wakeup);
  EXPECT_LE(host_.wakeup, host_.now + 10'000'000);
  host_.now += 10'000'000;
  host_.has_wakeup = false;
  ASSERT_EQ(pbxstate_engine_on_timer(engine_), PBXSTATE_OK);
  EXPECT_FALSE(host_.sent.empty()) << "the retry did not send";

  // A value that is not a pbxstate_send_status counts as UNREACHABLE: a failed send.
  host_.broadcast_answer = 42;
  const pbxstate_stats mid = Stats();
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  EXPECT_GT(Stats().send_failed, mid.send_failed);
  EXPECT_EQ(Stats().send_try_again, mid.send_try_again);
}

namespace {
struct ListenerLog {
  int changes = 0;
  int members = 0;
};
void CountChange(void* u, const pbxstate_view_change*) { ++static_cast<ListenerLog*>(u)->changes; }
void CountMembers(void* u, const pbxstate_node_id*, std::size_t) { ++static_cast<ListenerLog*>(u)->members; }
}  // namespace

TEST_F(CApi, ListenerCanBeReplacedAndRemoved) {
  ListenerLog log;
  pbxstate_listener l{};
  l.user = &log;
  l.view_change = CountChange;
  l.members_changed = CountMembers;
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, &l), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  EXPECT_EQ(log.changes, 1);
  const pbxstate_node_id alone[] = {1};
  ASSERT_EQ(pbxstate_engine_on_membership(engine_, 2, alone, 1), PBXSTATE_OK);
  EXPECT_EQ(log.members, 1);
  // A listener with only one callback set is fine.
  l.members_changed = nullptr;
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, &l), PBXSTATE_OK);
  const pbxstate_node_id both[] = {1, 2};
  ASSERT_EQ(pbxstate_engine_on_membership(engine_, 3, both, 2), PBXSTATE_OK);
  EXPECT_EQ(log.members, 1);
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, nullptr), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  EXPECT_EQ(log.changes, 1);
}

namespace {
struct MailboxLog {
  int changes = 0;
  bool had_old = false, has_new = true;
};
void LogMailbox(void* u, const pbxstate_view_change* c) {
  if (c->kind != PBXSTATE_KIND_MAILBOX) return;
  auto* log = static_cast<MailboxLog*>(u);
  ++log->changes;
  log->had_old = c->old_mailbox != nullptr;
  log->has_new = c->new_mailbox != nullptr;
}
}  // namespace

TEST_F(CApi, ARemovedMailboxHasNoValueAndItsChangeNoNewMailbox) {
  MailboxLog log;
  pbxstate_listener l{};
  l.user = &log;
  l.view_change = LogMailbox;
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, &l), PBXSTATE_OK);
  const pbxstate_mailbox_counts mc{3, 1, 0};
  ASSERT_EQ(pbxstate_engine_set_mailbox(engine_, "100@default", 11, &mc), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_remove_mailbox(engine_, "100@default", 11), PBXSTATE_OK);
  EXPECT_EQ(log.changes, 2);
  EXPECT_TRUE(log.had_old);
  EXPECT_FALSE(log.has_new);
  pbxstate_mailbox_value v{};
  EXPECT_EQ(pbxstate_engine_mailbox(engine_, "100@default", 11, &v), PBXSTATE_E_NOT_FOUND);
  ASSERT_EQ(pbxstate_engine_remove_mailbox(engine_, "100@default", 11), PBXSTATE_OK);  // again: no change
  EXPECT_EQ(log.changes, 2);
  ASSERT_EQ(pbxstate_engine_set_mailbox(engine_, "100@default", 11, &mc), PBXSTATE_OK);  // written again
  EXPECT_EQ(pbxstate_engine_mailbox(engine_, "100@default", 11, &v), PBXSTATE_OK);
  EXPECT_EQ(v.counts.new_messages, 3u);
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, nullptr), PBXSTATE_OK);
}

TEST_F(CApi, VisitorsMayQueryButNotMutate) {
  ASSERT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_RINGING), PBXSTATE_OK);
  struct Probe {
    pbxstate_engine* engine;
    int visits = 0, query_rc = -1, mutation_rc = -1, state = -1;
  } probe{engine_};
  ASSERT_EQ(pbxstate_engine_for_each_device(
                engine_,
                [](void* u, const char* dev, std::size_t len, int, const pbxstate_contribution*, std::size_t) {
                  auto* p = static_cast<Probe*>(u);
                  ++p->visits;
                  p->query_rc = pbxstate_engine_device_state(p->engine, dev, len, &p->state);
                  p->mutation_rc = pbxstate_engine_set_device_state(p->engine, dev, len, PBXSTATE_DEVICE_BUSY);
                },
                &probe),
            PBXSTATE_OK);
  EXPECT_EQ(probe.visits, 1);
  EXPECT_EQ(probe.query_rc, PBXSTATE_OK);
  EXPECT_EQ(probe.state, PBXSTATE_DEVICE_RINGING);
  EXPECT_EQ(probe.mutation_rc, PBXSTATE_E_REENTRANT);
  // Outside the visitor, mutation works again.
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
}

namespace {
// What a registration visitor or listener saw, copied while the strings were valid.
struct SeenRegistration {
  int calls = 0;
  std::string contact, path, user_agent;
  bool terminated = true;  // every string handed out was NUL-terminated
  void Take(const pbxstate_registration& r) {
    ++calls;
    terminated = terminated && r.contact[r.contact_len] == '\0' && r.path != nullptr && r.path[r.path_len] == '\0' &&
                 r.user_agent != nullptr && r.user_agent[r.user_agent_len] == '\0';
    contact.assign(r.contact, r.contact_len);
    path.assign(r.path, r.path_len);
    user_agent.assign(r.user_agent, r.user_agent_len);
  }
};
void SeeRegistration(void* u, const char*, std::size_t, const pbxstate_registration_view* r) {
  static_cast<SeenRegistration*>(u)->Take(r->info);
}
void SeeChange(void* u, const pbxstate_view_change* c) {
  if (c->kind == PBXSTATE_KIND_REGISTRATION && c->new_registration != nullptr) {
    static_cast<SeenRegistration*>(u)->Take(*c->new_registration);
  }
}
}  // namespace

// Path and user agent (engine.h's RegistrationInfo) go in through the struct and come out of the
// queries, the visitors and the listener, NUL-terminated; none is handed out as "", never NULL;
// the three strings together are bounded by max_contact_bytes; a NULL with a length is refused.
TEST_F(CApi, RegistrationCarriesPathAndUserAgent) {
  SeenRegistration changed;
  pbxstate_listener l{};
  l.user = &changed;
  l.view_change = SeeChange;
  ASSERT_EQ(pbxstate_engine_set_listener(engine_, &l), PBXSTATE_OK);
  const std::string contact = "sip:alice@198.18.0.7:5060", path = "<sip:edge1.example;lr>,<sip:core.example;lr>",
                    agent = "Softphone/2.1";
  pbxstate_registration reg{};
  reg.contact = contact.data();
  reg.contact_len = contact.size();
  reg.expires_ns = Host::Wall(&host_) + 60'000'000'000;
  reg.status = PBXSTATE_CONTACT_REACHABLE;
  reg.path = path.data();
  reg.path_len = path.size();
  reg.user_agent = agent.data();
  reg.user_agent_len = agent.size();
  ASSERT_EQ(pbxstate_engine_set_registration(engine_, "alice", 5, &reg), PBXSTATE_OK);
  EXPECT_EQ(changed.calls, 1);
  EXPECT_EQ(changed.path, path);
  EXPECT_EQ(changed.user_agent, agent);
  SeenRegistration one, all;
  std::size_t count = 0;
  ASSERT_EQ(pbxstate_engine_registrations(engine_, "alice", 5, SeeRegistration, &one, &count), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_for_each_registration(engine_, SeeRegistration, &all), PBXSTATE_OK);
  for (const SeenRegistration* s : {&one, &all}) {
    EXPECT_EQ(s->calls, 1);
    EXPECT_EQ(s->contact, contact);
    EXPECT_EQ(s->path, path);
    EXPECT_EQ(s->user_agent, agent);
    EXPECT_TRUE(s->terminated);
  }
  // A changed user agent alone is a change (routing reads the record as a whole).
  reg.user_agent = "Softphone/2.2";
  ASSERT_EQ(pbxstate_engine_set_registration(engine_, "alice", 5, &reg), PBXSTATE_OK);
  EXPECT_EQ(changed.calls, 2);
  EXPECT_EQ(changed.user_agent, "Softphone/2.2");
  // None: NULL with length 0, handed back as "".
  reg.path = nullptr;
  reg.path_len = 0;
  reg.user_agent = nullptr;
  reg.user_agent_len = 0;
  ASSERT_EQ(pbxstate_engine_set_registration(engine_, "bob", 3, &reg), PBXSTATE_OK);
  SeenRegistration bob;
  ASSERT_EQ(pbxstate_engine_registrations(engine_, "bob", 3, SeeRegistration, &bob, &count), PBXSTATE_OK);
  EXPECT_EQ(bob.calls, 1);
  EXPECT_TRUE(bob.terminated);
  EXPECT_EQ(bob.path, "");
  EXPECT_EQ(bob.user_agent, "");
  // Refused, and nothing changed: a NULL with a length; the three together over max_contact_bytes.
  const int calls = changed.calls;
  reg.path_len = 4;
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "bob", 3, &reg), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(engine_)).find("info.path"), std::string::npos);
  reg.path = path.data();
  reg.path_len = path.size();
  reg.user_agent_len = 2;
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "bob", 3, &reg), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(engine_)).find("info.user_agent"), std::string::npos);
  const pbxstate_config cfg = TestConfig();
  const std::string long_agent(cfg.max_contact_bytes - contact.size() - path.size() + 1, 'u');
  reg.user_agent = long_agent.data();
  reg.user_agent_len = long_agent.size();
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "alice", 5, &reg), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(engine_)).find("max_contact_bytes"), std::string::npos);
  reg.user_agent_len = long_agent.size() - 1;  // exactly at the bound
  EXPECT_EQ(pbxstate_engine_set_registration(engine_, "alice", 5, &reg), PBXSTATE_OK);
  EXPECT_EQ(changed.calls, calls + 1);
  EXPECT_EQ(changed.user_agent.size(), long_agent.size() - 1);
}

// Out of memory at any allocation inside create comes back as PBXSTATE_E_NO_MEMORY with no
// engine, never as an exception or a crash.
TEST(CApiOutOfMemory, CreateFailsCleanlyAtEveryAllocation) {
  Host host;
  const pbxstate_config cfg = TestConfig();
  const pbxstate_env env = host.Env();
  bool created = false;
  long failures = 0;
  for (long n = 0; n < 10000 && !created; ++n) {
    pbxstate_engine* e = nullptr;
    char err[64] = "";
    int rc;
    {
      FailAllocationsAfter fail(n);
      rc = pbxstate_engine_create(&cfg, &env, &e, err, sizeof err);
    }
    if (rc == PBXSTATE_OK) {
      created = true;
      ASSERT_NE(e, nullptr);
      pbxstate_engine_destroy(e);
    } else {
      ++failures;
      ASSERT_EQ(rc, PBXSTATE_E_NO_MEMORY) << "at allocation " << n << ": " << err;
      ASSERT_EQ(e, nullptr);
      ASSERT_STREQ(err, "out of memory");
    }
  }
  EXPECT_TRUE(created);
  EXPECT_GT(failures, 0) << "create allocated nothing: the test did not test anything";
}

TEST_F(CApi, OutOfMemoryInACallIsAnErrorCode) {
  const pbxstate_node_id members[] = {3, 2, 1};
  int rc;
  {
    FailAllocationsAfter fail(0);
    rc = pbxstate_engine_on_membership(engine_, 5, members, 3);
  }
  EXPECT_EQ(rc, PBXSTATE_E_NO_MEMORY);
  EXPECT_STREQ(pbxstate_engine_last_error(engine_), "out of memory");
  {
    FailAllocationsAfter fail(0);
    rc = pbxstate_engine_set_device_state(engine_, "a-new-device-with-a-long-name-to-allocate", 41,
                                          PBXSTATE_DEVICE_INUSE);
  }
  EXPECT_EQ(rc, PBXSTATE_E_NO_MEMORY);
  // The engine is still usable.
  EXPECT_EQ(pbxstate_engine_set_device_state(engine_, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  int state = -2;
  EXPECT_EQ(pbxstate_engine_device_state(engine_, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_INUSE);
}

}  // namespace
