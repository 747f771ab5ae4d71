// Mailbox removal (engine/README.md, "Removing a mailbox"): a last-writer-wins write without
// counts, kept as a tombstone in the mailbox repair's ranges until its timestamp plus the keep,
// then the mailbox's name is freed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mini_net.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace {

using namespace std::chrono_literals;
using testing_mini_net::MiniNet;

constexpr std::string_view kBox = "100@default";

struct MailboxEvents : ViewListener {
  void OnViewChange(const ViewChange& c) override {
    if (c.kind == EntryKind::kMailbox) changes.push_back(c.new_mailbox);
  }
  std::vector<std::optional<MailboxValue>> changes;
};

// The default keep: 2 x (suspect_after 2 s + departure_grace 0 + anti_entropy_interval 1 s +
// sync_timeout 3 s + batch_window 0) = 12 s.
constexpr Duration kKeep = 12s;

// Every node of `net` shows no value for `mailbox`, and the same view.
void ExpectGoneEverywhere(MiniNet& net, std::string_view mailbox) {
  for (auto& [id, e] : net.engines) {
    EXPECT_FALSE(e->Mailbox(mailbox)) << "node " << id;
    EXPECT_EQ(e->Digest(), net.engines[1]->Digest()) << "node " << id;
  }
}

// Cuts node 3 off from 1 and 2 (transport membership: two views), or heals the cut.
void Partition(MiniNet& net, bool cut) {
  if (cut) {
    net.cut = [](NodeId a, NodeId b) { return (a == 3) != (b == 3); };
    net.SetView({1, 2});
    net.SetView({3});
  } else {
    net.cut = nullptr;
    net.SetView({1, 2, 3});
  }
}

TEST(MailboxRemoval, ARemovedMailboxLeavesEveryViewAndItsNameIsFreedAfterTheKeep) {
  MiniNet net(3, MembershipSource::kTransport);
  MailboxEvents events;
  net.engines[3]->SetListener(&events);
  ASSERT_TRUE(net.engines[1]->SetMailbox(kBox, {2, 1, 0}).ok());
  ASSERT_TRUE(net.engines[1]->SetMailbox("200@default", {1, 0, 0}).ok());
  net.Run(100ms);
  ASSERT_TRUE(net.engines[3]->Mailbox(kBox));
  ASSERT_TRUE(net.engines[2]->RemoveMailbox(kBox).ok());  // any node removes, as any node writes
  EXPECT_TRUE(net.engines[2]->RemoveMailbox(kBox).ok());  // not held any more: no error, no change
  EXPECT_TRUE(net.engines[2]->RemoveMailbox("300@default").ok());  // never held: likewise
  EXPECT_FALSE(net.engines[2]->RemoveMailbox("").ok());
  net.Run(100ms);
  ExpectGoneEverywhere(net, kBox);
  ASSERT_EQ(events.changes.size(), 3u);  // two writes, one removal
  EXPECT_EQ(events.changes.back(), std::nullopt);
  for (auto& [id, e] : net.engines) {
    std::vector<std::string> listed;
    e->ForEachMailbox([&](std::string_view name, const MailboxValue&) { listed.emplace_back(name); });
    EXPECT_EQ(listed, std::vector<std::string>{"200@default"}) << "node " << id;
    EXPECT_EQ(e->Digest().mailboxes, 1u) << "node " << id;
    EXPECT_EQ(e->stats().mailbox_entries, 1u) << "node " << id;
    EXPECT_EQ(e->InternedNames().names, 2u) << "node " << id;  // the tombstone holds its name
  }
  net.Run(kKeep);
  for (auto& [id, e] : net.engines) {
    EXPECT_EQ(e->InternedNames().names, 1u) << "node " << id;  // freed with the tombstone
    EXPECT_FALSE(e->Mailbox(kBox)) << "node " << id;
  }
  // Written again after it was freed: a new name, everywhere.
  ASSERT_TRUE(net.engines[3]->SetMailbox(kBox, {5, 0, 0}).ok());
  net.Run(100ms);
  for (auto& [id, e] : net.engines) {
    ASSERT_TRUE(e->Mailbox(kBox)) << "node " << id;
    EXPECT_EQ(e->Mailbox(kBox)->counts.new_messages, 5u) << "node " << id;
    EXPECT_EQ(e->InternedNames().names, 2u) << "node " << id;
  }
}

TEST(MailboxRemoval, ANodeCutOffDuringTheRemovalHealsWithoutBringingTheMailboxBack) {
  MiniNet net(3, MembershipSource::kTransport);
  ASSERT_TRUE(net.engines[1]->SetMailbox(kBox, {2, 1, 0}).ok());
  net.Run(100ms);
  ASSERT_TRUE(net.engines[3]->Mailbox(kBox));
  Partition(net, true);
  net.Run(1s);
  ASSERT_TRUE(net.engines[1]->RemoveMailbox(kBox).ok());
  net.Run(2s);
  EXPECT_FALSE(net.engines[2]->Mailbox(kBox));
  ASSERT_TRUE(net.engines[3]->Mailbox(kBox));  // it missed the removal
  Partition(net, false);  // healed well within the keep
  net.Run(3s);
  ExpectGoneEverywhere(net, kBox);
  // Nothing brings it back later either: no repair runs while the views agree.
  net.Run(kKeep);
  ExpectGoneEverywhere(net, kBox);
  for (auto& [id, e] : net.engines) EXPECT_EQ(e->InternedNames().names, 0u) << "node " << id;
}

// A removal during a partition longer than the keep (a WAN outage of minutes): the side that
// removed holds the tombstone while a node it has heard of is away, so the heal's range exchange
// brings the removal to the cut-off node instead of its old value back to everyone.
TEST(MailboxRemoval, ARemovalDuringAPartitionLongerThanTheKeepSurvivesTheHeal) {
  MiniNet net(3, MembershipSource::kTransport);
  ASSERT_TRUE(net.engines[1]->SetMailbox(kBox, {2, 1, 0}).ok());
  ASSERT_TRUE(net.engines[1]->SetMailbox("200@default", {1, 0, 0}).ok());
  net.Run(100ms);
  Partition(net, true);
  net.Run(1s);
  ASSERT_TRUE(net.engines[1]->RemoveMailbox(kBox).ok());
  net.Run(15 * kKeep);  // three minutes cut off
  EXPECT_FALSE(net.engines[2]->Mailbox(kBox));
  ASSERT_TRUE(net.engines[3]->Mailbox(kBox));  // it missed the removal
  EXPECT_EQ(net.engines[1]->InternedNames().names, 2u);  // the tombstone is still held
  Partition(net, false);
  net.Run(3s);
  ExpectGoneEverywhere(net, kBox);
  // Its horizon passed long ago; the hold's end (the keep from the heal) has not: still held.
  EXPECT_EQ(net.engines[1]->InternedNames().names, 2u);
  // Once the cluster is whole again the tombstones go after the keep, and nothing brings the
  // mailbox back.
  net.Run(kKeep + 1s);
  ExpectGoneEverywhere(net, kBox);
  for (auto& [id, e] : net.engines) {
    EXPECT_EQ(e->InternedNames().names, 1u) << "node " << id;
    EXPECT_TRUE(e->Mailbox("200@default")) << "node " << id;
  }
}

// A node away for good (decommissioned without a word) holds tombstones back on the others
// forever; max_entries bounds them: at the bound a new entry takes the place of the oldest
// tombstone held past its keep.
TEST(MailboxRemoval, TombstonesHeldForAnAwayNodeAreBoundedByMaxEntries) {
  constexpr std::size_t kMaxEntries = 64;
  MiniNet net(3, MembershipSource::kTransport, [](EngineConfig& c) { c.max_entries = kMaxEntries; });
  Partition(net, true);  // node 3 never comes back
  for (std::size_t i = 0; i < 4 * kMaxEntries; ++i) {
    const std::string box = std::to_string(i) + "@churn";
    ASSERT_TRUE(net.engines[1]->SetMailbox(box, {1, 0, 0}).ok()) << box;
    net.Run(10ms);
    ASSERT_TRUE(net.engines[2]->RemoveMailbox(box).ok()) << box;
    net.Run(190ms);  // 200 ms a mailbox: past its keep after 60 more
  }
  ASSERT_TRUE(net.engines[1]->SetMailbox("live@default", {1, 0, 0}).ok());
  net.Run(100ms);
  for (NodeId id : {1, 2}) {
    Engine& e = *net.engines[id];
    EXPECT_EQ(e.stats().dropped[static_cast<int>(DropReason::kStoreFull)], 0u) << "node " << id;
    EXPECT_LE(e.InternedNames().names, kMaxEntries) << "node " << id;
    EXPECT_EQ(e.stats().mailbox_entries, 1u) << "node " << id;
    EXPECT_GT(e.stats().mailbox_tombstones_evicted, 0u) << "node " << id;
    // The latest removals are still held: a late copy of their old values is refused.
    EXPECT_EQ(e.InternedNames().names, kMaxEntries) << "node " << id;
  }
}

TEST(MailboxRemoval, AWriteAfterTheRemovalWinsAndOneStampedBeforeItDoesNot) {
  MiniNet net(3, MembershipSource::kTransport);
  ASSERT_TRUE(net.engines[1]->SetMailbox(kBox, {1, 0, 0}).ok());
  net.Run(100ms);
  Partition(net, true);
  // Node 3 writes first, then node 1 removes: the removal is the later write.
  ASSERT_TRUE(net.engines[3]->SetMailbox(kBox, {7, 0, 0}).ok());
  net.Run(500ms);
  ASSERT_TRUE(net.engines[1]->RemoveMailbox(kBox).ok());
  net.Run(500ms);
  Partition(net, false);
  net.Run(3s);
  ExpectGoneEverywhere(net, kBox);
  // Re-created on node 3 after the removal: its timestamp is greater, so it wins everywhere,
  // while the tombstone is still held.
  ASSERT_TRUE(net.engines[3]->SetMailbox(kBox, {9, 0, 0}).ok());
  net.Run(100ms);
  for (auto& [id, e] : net.engines) {
    ASSERT_TRUE(e->Mailbox(kBox)) << "node " << id;
    EXPECT_EQ(e->Mailbox(kBox)->counts.new_messages, 9u) << "node " << id;
    EXPECT_EQ(e->Mailbox(kBox)->writer, 3u) << "node " << id;
    EXPECT_EQ(e->Digest(), net.engines[1]->Digest()) << "node " << id;
  }
  // Re-created while cut off from the removal's writer: the later write wins at the heal.
  Partition(net, true);
  ASSERT_TRUE(net.engines[2]->RemoveMailbox(kBox).ok());
  net.Run(200ms);
  ASSERT_TRUE(net.engines[3]->SetMailbox(kBox, {11, 0, 0}).ok());
  net.Run(200ms);
  Partition(net, false);
  net.Run(3s);
  for (auto& [id, e] : net.engines) {
    ASSERT_TRUE(e->Mailbox(kBox)) << "node " << id;
    EXPECT_EQ(e->Mailbox(kBox)->counts.new_messages, 11u) << "node " << id;
  }
}

TEST(MailboxRemoval, ALostRemovalIsRepairedByTheRangeExchange) {
  MiniNet net(2, MembershipSource::kTransport);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(net.engines[1]->SetMailbox(std::to_string(i) + "@default", {1, 0, 0}).ok());
  }
  net.Run(100ms);
  ASSERT_TRUE(net.engines[2]->Mailbox("7@default"));
  net.drop = [](NodeId from, NodeId, std::span<const std::uint8_t>) { return from == 1; };
  ASSERT_TRUE(net.engines[1]->RemoveMailbox("7@default").ok());
  net.Run(10ms);
  net.drop = nullptr;
  ASSERT_TRUE(net.engines[2]->Mailbox("7@default"));
  net.Run(3s);  // anti-entropy: digests differ, an exchange finds the one difference
  ExpectGoneEverywhere(net, "7@default");
  EXPECT_EQ(net.engines[2]->Digest().mailboxes, 49u);
}

// Mailboxes created and deleted (voicemail.conf churn): each one written and removed again.
// Their tombstones go after the keep, and their names with them.
TEST(MailboxRemoval, ChurningTenTimesMaxEntriesMailboxesNeverHitsTheBoundAndFreesTheirNames) {
  constexpr std::size_t kMaxEntries = 256;
  MiniNet net(2, MembershipSource::kTransport, [](EngineConfig& c) { c.max_entries = kMaxEntries; });
  std::size_t peak_slots = 0;
  for (std::size_t i = 0; i < 10 * kMaxEntries; ++i) {
    const std::string box = std::to_string(i) + "@churn";
    ASSERT_TRUE(net.engines[1]->SetMailbox(box, {1, 0, 0}).ok()) << box;
    net.Run(10ms);
    ASSERT_TRUE(net.engines[2]->RemoveMailbox(box).ok()) << box;
    net.Run(90ms);  // a keep of 12 s: about 120 tombstones held at any time
    for (auto& [id, e] : net.engines) peak_slots = std::max<std::size_t>(peak_slots, e->InternedNames().slots);
  }
  for (auto& [id, e] : net.engines) {
    EXPECT_EQ(e->stats().dropped[static_cast<int>(DropReason::kStoreFull)], 0u) << "node " << id;
    EXPECT_EQ(e->stats().mailbox_entries, 0u) << "node " << id;
  }
  EXPECT_LE(peak_slots, kMaxEntries + 64);  // kReclaimMinReleased
  net.Run(kKeep + 1s);
  for (auto& [id, e] : net.engines) EXPECT_EQ(e->InternedNames().names, 0u) << "node " << id;
}

}  // namespace
}  // namespace pbxstate
