// The engines of a hand-driven test network (mini_net.h, ring_net.h), one per Env: created in id
// order with one config shape, started together, handed views. A member of the network declared
// after its Envs, so the engines are destroyed first (an Engine uses its Env until it is gone);
// the network owns its Envs and delivery, this only the engines.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pbxstate/engine.h"

namespace pbxstate {
namespace testing_engine_set {

class EngineSet : public std::map<NodeId, std::unique_ptr<Engine>> {
 public:
  // An engine for each of `envs` (node id = key, incarnation 1), `tune` applied to each config
  // before Engine::Create, then every one started.
  template <typename EnvT>
  void CreateAndStart(const std::map<NodeId, std::unique_ptr<EnvT>>& envs, MembershipSource membership,
                      const std::function<void(EngineConfig&)>& tune) {
    for (const auto& [id, env] : envs) {
      EngineConfig c;
      c.node_id = id;
      c.incarnation = 1;
      c.membership = membership;
      if (tune) tune(c);
      std::unique_ptr<Engine> e;
      const Status st = Engine::Create(c, env.get(), &e);
      if (!st.ok()) throw std::runtime_error(st.ToString());
      (*this)[id] = std::move(e);
    }
    for (auto& [id, e] : *this) e->Start();
  }

  std::vector<NodeId> AllIds() const {
    std::vector<NodeId> ids;
    for (const auto& [id, e] : *this) ids.push_back(id);
    return ids;
  }

  // The view `view_id` of `members`, to each of them.
  void SetView(std::uint64_t view_id, const std::vector<NodeId>& members) {
    for (NodeId id : members) at(id)->OnMembership({view_id, members});
  }

  // Every engine registers `per_node` AORs of its own ("aor<node>-<i>", expiring 600 s after its
  // Env's wall clock): the catch-up load of the split-and-heal tests. Returns how many
  // SetRegistration calls failed (the tests expect 0).
  template <typename EnvT>
  int RegisterOwnAors(const std::map<NodeId, std::unique_ptr<EnvT>>& envs, int per_node) {
    int failed = 0;
    for (auto& [n, engine] : *this) {
      const WallTime t0 = envs.at(n)->WallNow();
      for (int i = 0; i < per_node; ++i) {
        const std::string aor = "aor" + std::to_string(n) + "-" + std::to_string(i);
        RegistrationInfo info{"sip:p" + std::to_string(i) + "@198.18.0.9", t0 + std::chrono::seconds(600),
                              ContactStatus::kReachable, 0, {}, {}};
        if (!engine->SetRegistration(aor, info).ok()) ++failed;
      }
    }
    return failed;
  }
};

}  // namespace testing_engine_set
}  // namespace pbxstate
