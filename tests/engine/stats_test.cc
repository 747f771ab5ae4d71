// EngineStatFields / ForEachStat: the one list of counter names every stats writer and reader
// uses (pbxstated's `stats`, run.json, the netns backend's parser).
#include "pbxstate/stats.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace pbxstate {
namespace {

TEST(EngineStats, ForEachStatVisitsEveryCounterOnceWithItsOwnValue) {
  EngineStats s;
  // A distinct value in every named counter, through the table's own member pointers.
  std::uint64_t v = 100;
  for (const EngineStatField& f : EngineStatFields()) s.*f.member = v++;
  std::map<std::string, std::uint64_t> seen;
  ForEachStat(s, [&seen](std::string_view name, std::uint64_t value) {
    EXPECT_TRUE(seen.emplace(std::string(name), value).second) << "duplicate name " << name;
  });
  EXPECT_EQ(seen.size(), EngineStatFields().size());
  // Spot checks that names and members agree (a swapped pair would pass the loop above).
  EXPECT_EQ(seen.at("frames_out"), s.frames_out);
  EXPECT_EQ(seen.at("records_applied"), s.records_applied);
  EXPECT_EQ(seen.at("send_queue_overflow"), s.send_queue_overflow);
  EXPECT_EQ(seen.at("registration_entries"), s.registration_entries);
  // Every scalar counter has a name, and every member is a different one: together with the
  // drop reasons they account for the whole struct.
  std::set<std::uint64_t> values;
  for (const auto& [name, value] : seen) values.insert(value);
  EXPECT_EQ(values.size(), seen.size());
  EXPECT_EQ((EngineStatFields().size() + kDropReasonCount) * sizeof(std::uint64_t), sizeof(EngineStats));
}

}  // namespace
}  // namespace pbxstate
