// SpanIndex (pbxstate/harness/span_index.h): the slots a stretch can tell anything about, swept
// in time order, against the plain answer (every span checked) on a seeded random corpus.
#include "pbxstate/harness/span_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;

std::vector<SlotId> Query(SpanIndex* index, Duration from, Duration to) {
  std::vector<SlotId> out;
  index->Overlapping(from, to, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(SpanIndex, FindsTheSpansThatReachAStretch) {
  SpanIndex index;
  index.Add(1, 0s, 10s);               // a value held 0..10 s
  index.Add(2, 5s, 5s);                // a change to none at 5 s
  index.Add(3, 30s, Duration::max());  // a value held from 30 s on
  index.Add(4, 12s, 12s);
  EXPECT_EQ(Query(&index, 0s, 4s), (std::vector<SlotId>{1}));
  EXPECT_EQ(Query(&index, 5s, 11s), (std::vector<SlotId>{1, 2}));
  // Both ends are inclusive; slot 2's instant is behind, slot 1 ended at 10 s.
  EXPECT_EQ(Query(&index, 10s, 12s), (std::vector<SlotId>{1, 4}));
  EXPECT_EQ(Query(&index, 13s, 29s), (std::vector<SlotId>{}));
  EXPECT_EQ(index.active(), 0u);  // every span behind has left
  EXPECT_EQ(Query(&index, 40s, 50s), (std::vector<SlotId>{3}));
  EXPECT_EQ(Query(&index, 100s, 100s), (std::vector<SlotId>{3}));
}

TEST(SpanIndex, AgreesWithEverySpanCheckedOnARandomCorpus) {
  std::mt19937_64 rng(18);
  struct Span {
    SlotId slot;
    Duration from, to;
  };
  std::vector<Span> spans;
  SpanIndex index;
  for (int i = 0; i < 5000; ++i) {
    const Duration from{static_cast<std::int64_t>(rng() % 100000)};
    const Duration to = rng() % 10 == 0 ? Duration::max() : from + Duration{static_cast<std::int64_t>(rng() % 3000)};
    const auto slot = static_cast<SlotId>(rng() % 700);
    spans.push_back({slot, from, to});
    index.Add(slot, from, to);
  }
  Duration from{}, to{};
  std::size_t most_active = 0;
  for (int q = 0; q < 200; ++q) {
    from += Duration{static_cast<std::int64_t>(rng() % 600)};
    to = std::max(to, from + Duration{static_cast<std::int64_t>(rng() % 700)});  // neither end goes back
    std::set<SlotId> want;
    for (const Span& s : spans) {
      if (s.from <= to && from <= s.to) want.insert(s.slot);
    }
    EXPECT_EQ(Query(&index, from, to), std::vector<SlotId>(want.begin(), want.end())) << "query " << q;
    most_active = std::max(most_active, index.active());
  }
  // The sweep holds only what reaches the queries, not the whole corpus.
  EXPECT_LT(most_active, spans.size() / 2);
}

}  // namespace
}  // namespace pbxstate::harness
