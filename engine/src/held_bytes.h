// The bytes a container holds on the heap, as libstdc++ lays it out: what the engine's memory
// accounting (EngineImpl::HeldBytes, engine_memory.cc) adds up. Capacity-based, not size-based:
// a vector that grew to a million and was cleared still holds a million slots, and that is the
// memory a month of uptime is about. Node-based containers count each node's links and, for
// hash tables, the bucket array. What malloc adds around each block is not counted (it depends
// on the allocator, not on the engine), so the sum is below the process's RSS; it is an estimate
// from the layouts (a cached hash counted in every hash-table node, a whole block for a deque),
// so it may exceed what the containers asked for by those few bytes a node.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pbxstate::held_bytes {

// A string's heap block: none while it fits the object itself (the short-string buffer).
inline std::size_t Of(const std::string& s) {
  const char* inside = reinterpret_cast<const char*>(&s);
  // std::less gives a total order on pointers of unrelated objects, where < and >= do not.
  const std::less<const char*> before;
  const bool local = !before(s.data(), inside) && before(s.data(), inside + sizeof(std::string));
  return local ? 0 : s.capacity() + 1;
}

template <class T>
std::size_t Of(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

// A deque allocates its elements in blocks of 512 bytes (one element when larger) and a map of
// block pointers; counted as whole blocks for the elements held, plus one pointer per block.
template <class T>
std::size_t Of(const std::deque<T>& d) {
  constexpr std::size_t kBlock = sizeof(T) < 512 ? 512 / sizeof(T) * sizeof(T) : sizeof(T);
  constexpr std::size_t kPerBlock = kBlock / sizeof(T);
  const std::size_t blocks = d.size() / kPerBlock + 1;
  return blocks * (kBlock + sizeof(void*));
}

// A red-black tree node: three links and a colour (32 bytes on LP64), then the value.
inline constexpr std::size_t kTreeNodeLinks = 4 * sizeof(void*);

template <class K, class V, class C>
std::size_t Of(const std::map<K, V, C>& m) {
  return m.size() * (kTreeNodeLinks + sizeof(typename std::map<K, V, C>::value_type));
}

template <class K, class C>
std::size_t Of(const std::set<K, C>& s) {
  return s.size() * (kTreeNodeLinks + sizeof(K));
}

// A hash table: its bucket array, and per node a link, the value and the cached hash.
template <class Table>
std::size_t OfHashTable(const Table& t) {
  return t.bucket_count() * sizeof(void*) +
         t.size() * (sizeof(void*) + sizeof(typename Table::value_type) + sizeof(std::size_t));
}

template <class K, class V, class H, class E>
std::size_t Of(const std::unordered_map<K, V, H, E>& m) {
  return OfHashTable(m);
}

template <class K, class H, class E>
std::size_t Of(const std::unordered_set<K, H, E>& s) {
  return OfHashTable(s);
}

}  // namespace pbxstate::held_bytes
