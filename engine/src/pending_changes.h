// The local changes held for the next flush: each changed key once, in change order.
//
// A lone change is the common case between bursts (an MWI update, a phone going off hook), and
// its path runs with cold caches: a hash set of held keys cost it a node allocation, a bucket
// array and its clear at every flush (engine/README.md, "One change's cost"). So up to kScanned
// held keys are found by scanning the list itself (at most two cache lines); the set is built
// only when a burst holds more, and cleared only when it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

#include "held_bytes.h"
#include "pbxstate/check.h"
#include "pbxstate/engine.h"

namespace pbxstate {

class PendingChanges {
 public:
  using Item = std::pair<EntryKind, std::uint32_t>;
  // Up to this many held keys, Contains and Add scan the list; past it, the index answers.
  static constexpr std::size_t kScanned = 16;

  // Holds (kind, id) unless it is held already; returns whether it was added.
  bool Add(EntryKind kind, std::uint32_t id) {
    if (Contains(kind, id)) return false;
    items_.emplace_back(kind, id);
    if (items_.size() > kScanned) {
      if (index_.empty()) {
        for (const Item& item : items_) index_.insert(Key(item.first, item.second));
      } else {
        index_.insert(Key(kind, id));
      }
      PBXSTATE_CHECK_EQ(index_.size(), items_.size());
    }
    return true;
  }
  // Whether (kind, id) is held.
  bool Contains(EntryKind kind, std::uint32_t id) const {
    if (!index_.empty()) return index_.contains(Key(kind, id));
    for (const Item& item : items_) {
      if (item.first == kind && item.second == id) return true;
    }
    return false;
  }
  // Holds nothing; the list keeps its capacity (a lone change allocates nothing).
  void Clear() {
    items_.clear();
    if (!index_.empty()) index_.clear();
  }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // In change order.
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }
  // The bytes held on the heap (held_bytes.h).
  std::size_t HeldBytes() const { return held_bytes::Of(items_) + held_bytes::Of(index_); }

 private:
  static std::uint64_t Key(EntryKind kind, std::uint32_t id) { return (static_cast<std::uint64_t>(kind) << 32) | id; }

  std::vector<Item> items_;
  std::unordered_set<std::uint64_t> index_;  // Key of every item while more than kScanned are held
};

}  // namespace pbxstate
