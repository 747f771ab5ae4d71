// Cluster keys through the C API (c_api.h): authentication, rotation, refusals, key files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "capi_test_host.h"
#include "pbxstate/c_api.h"

namespace {

using pbxstate_capi_test::Host;
using pbxstate_capi_test::TestConfig;

// Cluster keys through the C API: a keyed pair talks, a node without the key is refused and
// counted, keys rotate on a running engine, bad keys are refused with the argument named, and a
// key file is read (and refused when others can read it).
TEST(CApiAuth, KeysAuthenticateRotateAndAreValidated) {
  const std::vector<std::uint8_t> key_a(PBXSTATE_CLUSTER_KEY_BYTES, 0xA5), key_b(PBXSTATE_CLUSTER_KEY_BYTES, 0x5B);
  auto make = [](Host* host, pbxstate_node_id id, const std::vector<std::uint8_t>* key) {
    pbxstate_config cfg = TestConfig(id);
    if (key != nullptr) {
      cfg.cluster_keys.key = key->data();
      cfg.cluster_keys.key_len = key->size();
    }
    const pbxstate_env env = host->Env();
    pbxstate_engine* e = nullptr;
    char err[256];
    EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &e, err, sizeof err), PBXSTATE_OK) << err;
    host->engine = e;
    EXPECT_EQ(pbxstate_engine_start(e), PBXSTATE_OK);
    const pbxstate_node_id members[] = {1, 2};
    EXPECT_EQ(pbxstate_engine_on_membership(e, 1, members, 2), PBXSTATE_OK);
    return e;
  };
  Host h1, h2, h3;
  pbxstate_engine* e1 = make(&h1, 1, &key_a);
  pbxstate_engine* e2 = make(&h2, 2, &key_a);
  pbxstate_engine* plain = make(&h3, 2, nullptr);
  ASSERT_NE(h1.logs.size(), 0u);
  EXPECT_NE(h1.logs[0].find("traffic is authenticated"), std::string::npos) << h1.logs[0];
  EXPECT_NE(h3.logs[0].find("UNAUTHENTICATED"), std::string::npos) << h3.logs[0];

  ASSERT_EQ(pbxstate_engine_set_device_state(e2, "d", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_device_state(plain, "x", 1, PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  for (const auto& f : h2.sent) ASSERT_EQ(pbxstate_engine_on_frame(e1, 2, f.data(), f.size()), PBXSTATE_OK);
  for (const auto& f : h3.sent) ASSERT_EQ(pbxstate_engine_on_frame(e1, 2, f.data(), f.size()), PBXSTATE_OK);
  int state = -1;
  EXPECT_EQ(pbxstate_engine_device_state(e1, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_BUSY);
  EXPECT_EQ(pbxstate_engine_device_state(e1, "x", 1, &state), PBXSTATE_E_NOT_FOUND);
  pbxstate_stats s{};
  ASSERT_EQ(pbxstate_engine_stats(e1, &s), PBXSTATE_OK);
  EXPECT_EQ(s.dropped[PBXSTATE_DROP_UNAUTHENTICATED], h3.sent.size());
  EXPECT_STREQ(pbxstate_drop_reason_name(PBXSTATE_DROP_AUTH_NOT_CONFIGURED), "auth_not_configured");
  // The same frames again are replays.
  for (const auto& f : h2.sent) ASSERT_EQ(pbxstate_engine_on_frame(e1, 2, f.data(), f.size()), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_stats(e1, &s), PBXSTATE_OK);
  EXPECT_EQ(s.dropped[PBXSTATE_DROP_REPLAYED], h2.sent.size());

  // Rotation: e1 accepts B as well, e2 moves to B; e1 still hears e2.
  const pbxstate_cluster_keys a_then_b{key_a.data(), key_a.size(), key_b.data(), key_b.size()};
  const pbxstate_cluster_keys b_only{key_b.data(), key_b.size(), nullptr, 0};
  ASSERT_EQ(pbxstate_engine_set_cluster_keys(e1, &a_then_b), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_cluster_keys(e2, &b_only), PBXSTATE_OK);
  h2.sent.clear();
  ASSERT_EQ(pbxstate_engine_set_device_state(e2, "d", 1, PBXSTATE_DEVICE_RINGING), PBXSTATE_OK);
  for (const auto& f : h2.sent) ASSERT_EQ(pbxstate_engine_on_frame(e1, 2, f.data(), f.size()), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_device_state(e1, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_RINGING);

  // Refusals change nothing and name the argument.
  const pbxstate_cluster_keys short_key{key_a.data(), 16, nullptr, 0};
  EXPECT_EQ(pbxstate_engine_set_cluster_keys(e1, &short_key), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(e1)).find("16 bytes; expected exactly 32"), std::string::npos)
      << pbxstate_engine_last_error(e1);
  const pbxstate_cluster_keys previous_only{nullptr, 0, key_b.data(), key_b.size()};
  EXPECT_EQ(pbxstate_engine_set_cluster_keys(e1, &previous_only), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(e1)).find("keys->previous: set without keys->key"), std::string::npos)
      << pbxstate_engine_last_error(e1);
  const pbxstate_cluster_keys same{key_a.data(), key_a.size(), key_a.data(), key_a.size()};
  EXPECT_EQ(pbxstate_engine_set_cluster_keys(e1, &same), PBXSTATE_E_INVALID_ARGUMENT);
  h2.sent.clear();
  ASSERT_EQ(pbxstate_engine_set_device_state(e2, "d", 1, PBXSTATE_DEVICE_ONHOLD), PBXSTATE_OK);
  for (const auto& f : h2.sent) ASSERT_EQ(pbxstate_engine_on_frame(e1, 2, f.data(), f.size()), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_device_state(e1, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_ONHOLD) << "a refused key change must leave the keys as they were";

  // A bad key in the config is refused at create, named.
  pbxstate_config bad = TestConfig(4);
  bad.cluster_keys.key = key_a.data();
  bad.cluster_keys.key_len = 0;
  const pbxstate_env env = h3.Env();
  pbxstate_engine* none = nullptr;
  char err[256];
  EXPECT_EQ(pbxstate_engine_create(&bad, &env, &none, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(err), "cluster_keys.key: NULL with a non-zero length, or a length of 0");
  EXPECT_EQ(none, nullptr);

  pbxstate_engine_destroy(e1);
  pbxstate_engine_destroy(e2);
  pbxstate_engine_destroy(plain);
}

TEST(CApiAuth, LoadClusterKeyReadsPrivateFilesOnly) {
  char dir_template[] = "/tmp/pbxstate-capi-keyXXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template, path = dir + "/cluster.key";
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    for (int i = 0; i < 32; ++i) std::fputc(i, f);
    std::fclose(f);
  }
  std::uint8_t key[PBXSTATE_CLUSTER_KEY_BYTES] = {};
  char err[512];
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(pbxstate_load_cluster_key(path.c_str(), key, sizeof key, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(err), path + ": mode 0644 lets group or others read or write the cluster key; expected 0600 or "
                                     "0400 (chmod 600 " + path + ")");
  EXPECT_EQ(key[31], 0);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(pbxstate_load_cluster_key(path.c_str(), key, 31, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  ASSERT_EQ(pbxstate_load_cluster_key(path.c_str(), key, sizeof key, err, sizeof err), PBXSTATE_OK) << err;
  EXPECT_EQ(key[0], 0);
  EXPECT_EQ(key[31], 31);
  EXPECT_STREQ(err, "");
  EXPECT_EQ(pbxstate_load_cluster_key(nullptr, key, sizeof key, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
