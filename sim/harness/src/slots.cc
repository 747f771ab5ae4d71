#include "pbxstate/harness/slots.h"

namespace pbxstate::harness {
namespace {

// FNV-1a, then a finaliser; never 0 so that 0 can mean "absent".
class Fnv {
 public:
  Fnv& Add(std::string_view s) {
    for (unsigned char c : s) h_ = (h_ ^ c) * 0x100000001b3ULL;
    return Add(static_cast<std::uint64_t>(s.size()));
  }
  Fnv& Add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) h_ = (h_ ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
    return *this;
  }
  ValueHash value() const {
    std::uint64_t x = h_ ^ (h_ >> 33);
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x == kAbsent ? 1 : x;
  }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

SlotId SlotTable::Intern(EntryKind kind, std::string_view key, NodeId origin) {
  std::string id;
  id.reserve(key.size() + 8);
  id.push_back(static_cast<char>('0' + static_cast<int>(kind)));
  id.append(std::to_string(origin));
  id.push_back('|');
  id.append(key);
  auto [it, inserted] = ids_.try_emplace(std::move(id), static_cast<SlotId>(slots_.size()));
  if (inserted) slots_.push_back({kind, std::string(key), origin});
  return it->second;
}

ValueHash DeviceValue(DeviceState state, std::uint64_t incarnation) {
  return Fnv().Add(1).Add(static_cast<std::uint64_t>(state)).Add(incarnation).value();
}

std::string RegistrationSlotKey(std::string_view aor, std::string_view contact) {
  std::string key(aor);
  key.append(" <");
  key.append(contact);
  key.push_back('>');
  return key;
}

ValueHash RegistrationValue(std::string_view contact, std::string_view path, std::string_view user_agent,
                            std::int64_t expires_rel_ns, ContactStatus status, std::uint64_t incarnation) {
  return Fnv()
      .Add(2)
      .Add(contact)
      .Add(path)
      .Add(user_agent)
      .Add(static_cast<std::uint64_t>(expires_rel_ns))
      .Add(static_cast<std::uint64_t>(status))
      .Add(incarnation)
      .value();
}

ValueHash MailboxValueHash(const MailboxValue& v) {
  return Fnv()
      .Add(3)
      .Add(v.counts.new_messages)
      .Add(v.counts.old_messages)
      .Add(v.counts.urgent_messages)
      .Add(v.writer)
      .Add(static_cast<std::uint64_t>(v.hlc.physical_ns))
      .Add(v.hlc.logical)
      .value();
}

}  // namespace pbxstate::harness
