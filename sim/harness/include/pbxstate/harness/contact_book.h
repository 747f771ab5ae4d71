// Which contacts each node holds for each AOR, modelled from engine/README.md's rules
// ("Registrations") and config.h's bound, not from engine code: the oracle and the call-routing
// truth both ask it, so that a contact a node replaced at max_contacts_per_aor, removed, or
// let expire is gone in both.
//
// Rules: a node holds at most one contact per (AOR, contact URI); a contact is live while
// t < its expiry; registering a contact the node does not hold live when it already holds
// `max_contacts_per_aor` live contacts of the AOR first removes the one expiring first (the
// smallest URI, by bytes, among equal expiries); a crash loses all of a node's contacts.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/types.h"

namespace pbxstate::harness {

class ContactBook {
 public:
  // Requires max_contacts_per_aor >= 1.
  explicit ContactBook(std::size_t max_contacts_per_aor);

  // `node` registers (or refreshes) `contact` of `aor` at `t`, expiring at `expires` (> t).
  // Returns the contact it replaced at the bound, if any.
  std::optional<std::string> Set(Duration t, NodeId node, const std::string& aor, const std::string& contact,
                                 Duration expires);
  // `node` removes `contact` of `aor` at `t`, or with `contact` empty every contact it holds for
  // `aor`. Returns the contacts that were live at `t` and are now removed, by URI.
  std::vector<std::string> Remove(Duration t, NodeId node, const std::string& aor, const std::string& contact);
  // `node` lost its memory: it holds nothing.
  void Crashed(NodeId node);
  // Whether `node` holds a live contact of `aor` at `t`.
  bool Holds(const std::string& aor, NodeId node, Duration t) const;
  // Whether any node holds a live contact of `aor` at `t`.
  bool Registered(const std::string& aor, Duration t) const;

 private:
  using Contacts = std::map<std::string, Duration>;  // contact URI -> expiry
  // Drops the contacts of `m` expired at `t`.
  static void Prune(Contacts& m, Duration t);

  std::size_t bound_;
  std::map<std::string, std::map<NodeId, Contacts>> book_;  // aor -> node -> contacts
};

}  // namespace pbxstate::harness
