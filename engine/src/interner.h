// Interned key names: each name the store holds an entry for is kept once, in its record, and
// known everywhere else by a small id (local to this process: names go on the wire as strings).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "held_bytes.h"
#include "pbxstate/check.h"

namespace pbxstate {

// Records live in a deque so their addresses (and the string_views the index holds into their
// names) stay valid as it grows. A record whose last entry went is released: its name leaves the
// index at once (the same name coming back gets an id again) and its id waits until the owner
// knows nothing refers to it any more (Reclaim), then it is handed out again. So the slots are
// bounded by the most names held at once plus the released ids not yet reclaimed, and a churn of
// names comes and goes without growing the store. engine/README.md, "Names", has the rule.
//
// Record needs a `name` string, `bool Holds() const`: whether some entry still refers to it, and
// `std::size_t HeapBytes() const`: what it holds on the heap besides itself (held_bytes.h).
template <class Record>
class Interner {
 public:
  // The id of `name`, if it is held.
  std::optional<std::uint32_t> Find(std::string_view name) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  // Interns `name` (not held) in an empty record: a reclaimed id, the most recently freed first,
  // else a new slot. The caller gives the record an entry before anything else looks at it.
  std::uint32_t Add(std::string_view name) {
    PBXSTATE_CHECK(!name.empty());
    std::uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(records_.size());
      records_.emplace_back();
    }
    Record& r = records_[id];
    PBXSTATE_CHECK(!r.Holds() && r.name.empty());
    r.name.assign(name);
    // One look-up of the name, here: callers found it missing already, and a name held twice
    // would break the index (checked, not searched for beforehand).
    const bool inserted = ids_.try_emplace(r.name, id).second;
    PBXSTATE_CHECK(inserted);
    return id;
  }
  // Record `id` holds nothing any more: forgets its name and frees the record's memory. The id
  // is not handed out again before a Reclaim finds nothing referring to it.
  void Release(std::uint32_t id) {
    Record& r = records_[id];
    PBXSTATE_CHECK(!r.Holds());
    const std::size_t erased = ids_.erase(r.name);
    PBXSTATE_CHECK_EQ(erased, std::size_t{1});
    std::destroy_at(&r);
    std::construct_at(&r);
    released_.push_back(id);
  }
  // Makes the released ids for which `still_referenced(id)` is false available to Add, in the
  // order they were released; the others stay released for the next Reclaim. Checks that the
  // names held are exactly the records holding something (O(slots); callers reclaim in batches).
  template <class StillReferenced>
  void Reclaim(const StillReferenced& still_referenced) {
    std::size_t kept = 0;
    for (std::uint32_t id : released_) {
      if (still_referenced(id)) released_[kept++] = id;
      else free_.push_back(id);
    }
    released_.resize(kept);
    CheckNames();
  }
  // Every slot is a held name, a released id or a free id, and a name is held exactly when its
  // record holds an entry.
  void CheckNames() const {
    PBXSTATE_CHECK_EQ(ids_.size() + released_.size() + free_.size(), records_.size());
    std::size_t holding = 0;
    for (std::size_t id = 0; id < records_.size(); ++id) {
      const Record& r = records_[id];
      if (!r.Holds()) {
        PBXSTATE_CHECK(r.name.empty());
        continue;
      }
      ++holding;
      auto it = ids_.find(r.name);
      PBXSTATE_CHECK(it != ids_.end() && it->second == id);
    }
    PBXSTATE_CHECK_EQ(holding, ids_.size());
  }

  Record& operator[](std::uint32_t id) { return records_[id]; }
  const Record& operator[](std::uint32_t id) const { return records_[id]; }
  // Slots: every id below it is valid (a released or free one holds nothing).
  std::size_t size() const { return records_.size(); }
  std::size_t names() const { return ids_.size(); }
  std::size_t released() const { return released_.size(); }
  // The bytes the interner holds (held_bytes.h): its slots, each record's heap, the name index
  // and the id lists. O(slots).
  std::size_t HeldBytes() const {
    std::size_t n = held_bytes::Of(records_) + held_bytes::Of(ids_) + held_bytes::Of(released_) + held_bytes::Of(free_);
    for (const Record& r : records_) n += r.HeapBytes();
    return n;
  }

 private:
  std::deque<Record> records_;
  std::unordered_map<std::string_view, std::uint32_t> ids_;
  std::vector<std::uint32_t> released_;  // empty, not yet known unreferenced
  std::vector<std::uint32_t> free_;      // empty and unreferenced: Add takes from the back
};

}  // namespace pbxstate
