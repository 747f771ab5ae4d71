#include "pbxstate/harness/contact_book.h"

#include <algorithm>
#include <cassert>

namespace pbxstate::harness {

ContactBook::ContactBook(std::size_t max_contacts_per_aor) : bound_(max_contacts_per_aor) { assert(bound_ >= 1); }

void ContactBook::Prune(Contacts& m, Duration t) {
  std::erase_if(m, [&](const auto& c) { return c.second <= t; });
}

std::optional<std::string> ContactBook::Set(Duration t, NodeId node, const std::string& aor,
                                            const std::string& contact, Duration expires) {
  assert(expires > t);
  Contacts& m = book_[aor][node];
  Prune(m, t);
  std::optional<std::string> replaced;
  if (!m.contains(contact) && m.size() >= bound_) {
    // The map is in URI order, so the first of the earliest expiries is the smallest URI.
    auto first = std::min_element(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    replaced = first->first;
    m.erase(first);
  }
  m[contact] = expires;
  assert(m.size() <= bound_);
  return replaced;
}

std::vector<std::string> ContactBook::Remove(Duration t, NodeId node, const std::string& aor,
                                             const std::string& contact) {
  std::vector<std::string> out;
  auto a = book_.find(aor);
  if (a == book_.end()) return out;
  auto n = a->second.find(node);
  if (n == a->second.end()) return out;
  Contacts& m = n->second;
  Prune(m, t);
  if (contact.empty()) {
    for (const auto& [uri, expires] : m) out.push_back(uri);
    m.clear();
  } else if (m.erase(contact) != 0) {
    out.push_back(contact);
  }
  return out;
}

void ContactBook::Crashed(NodeId node) {
  for (auto& [aor, nodes] : book_) nodes.erase(node);
}

bool ContactBook::Holds(const std::string& aor, NodeId node, Duration t) const {
  auto a = book_.find(aor);
  if (a == book_.end()) return false;
  auto n = a->second.find(node);
  if (n == a->second.end()) return false;
  return std::any_of(n->second.begin(), n->second.end(), [&](const auto& c) { return c.second > t; });
}

bool ContactBook::Registered(const std::string& aor, Duration t) const {
  auto a = book_.find(aor);
  if (a == book_.end()) return false;
  return std::any_of(a->second.begin(), a->second.end(), [&](const auto& n) { return Holds(aor, n.first, t); });
}

}  // namespace pbxstate::harness
