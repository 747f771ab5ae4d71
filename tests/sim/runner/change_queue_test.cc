// A node's change queue (sim/runner/src/change_queue.h) on a socketpair whose far end stands for
// the daemon: its bound, partial writes on a full socket, lines made when they go out, answers in
// order, and the waits it reports.
#include "change_queue.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pbxstate/control/protocol.h"

namespace pbxstate::runner::netns_run {
namespace {

using namespace std::chrono_literals;

class ChangeQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    // A small send buffer, so a few lines fill the socket.
    const int size = 4096;
    ASSERT_EQ(setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    changes_.resize(64);
    for (std::size_t i = 0; i < changes_.size(); ++i) changes_[i].key = "k" + std::to_string(i);
  }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
  }
  // Each line: the change's key, the time it was made at, and `pad_` bytes.
  ChangeQueue::LineFn Line() {
    return [this](const harness::PlannedChange& c, Duration t) {
      made_.push_back(c.key);
      return c.key + " " + std::to_string(t.count()) + " " + std::string(pad_, 'x') + "\n";
    };
  }
  std::function<Duration()> Clock() {
    return [this] { return now_; };
  }
  // Everything the "daemon" can read now.
  std::string Drain() {
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    return got;
  }

  int fds_[2] = {-1, -1};
  std::vector<harness::PlannedChange> changes_;
  std::vector<std::string> made_;
  std::size_t pad_ = 16;
  Duration now_ = 1s;
};

TEST_F(ChangeQueueTest, HandsUpToItsBoundAndNoMore) {
  ChangeQueue q(3);
  EXPECT_TRUE(q.Hand(&changes_[0], 1s));
  EXPECT_TRUE(q.Hand(&changes_[1], 1s));
  EXPECT_TRUE(q.Hand(&changes_[2], 1s));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.Hand(&changes_[3], 1s));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.max_depth(), 3u);
  // Room again only once an answer came for a written change.
  ChangeQueue::Entry e;
  EXPECT_FALSE(q.Answered(&e));  // nothing written: an answer to no request
  ASSERT_TRUE(q.Write(fds_[0], Clock(), Line()).ok());
  ASSERT_TRUE(q.Answered(&e));
  EXPECT_EQ(e.change, &changes_[0]);
  EXPECT_TRUE(q.Hand(&changes_[3], 1s));
}

TEST_F(ChangeQueueTest, AFullSocketLeavesTheRestOfALineForLaterAndNeverWaits) {
  pad_ = 3000;  // a line is most of the socket's buffer: the second one goes out in part
  ChangeQueue q(16);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.Hand(&changes_[i], 1s));
  ASSERT_TRUE(q.Write(fds_[0], Clock(), Line()).ok());  // returns although the socket is full
  EXPECT_TRUE(q.wants_write());
  const std::size_t whole = q.awaiting_answer();
  EXPECT_LT(whole, 6u);
  // The line under way was made once and is not made again when the rest goes.
  const std::size_t made = made_.size();
  EXPECT_EQ(made, whole + 1);
  std::string got;
  for (int round = 0; round < 100 && q.wants_write(); ++round) {
    got += Drain();
    now_ += 1ms;
    ASSERT_TRUE(q.Write(fds_[0], Clock(), Line()).ok());
  }
  got += Drain();
  EXPECT_FALSE(q.wants_write());
  EXPECT_EQ(q.awaiting_answer(), 6u);
  EXPECT_EQ(made_.size(), 6u);
  // Every line whole and in order, each once.
  std::size_t pos = 0;
  for (int i = 0; i < 6; ++i) {
    const std::size_t nl = got.find('\n', pos);
    ASSERT_NE(nl, std::string::npos) << "line " << i;
    const std::string line = got.substr(pos, nl - pos);
    const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    EXPECT_EQ(line.substr(0, sp1), "k" + std::to_string(i));
    EXPECT_EQ(line.substr(sp2 + 1), std::string(3000, 'x')) << "line " << i;
    pos = nl + 1;
  }
  EXPECT_EQ(pos, got.size());
}

TEST_F(ChangeQueueTest, ALineIsMadeWhenItGoesOutAndItsWaitIsMeasured) {
  ChangeQueue q(8);
  ASSERT_TRUE(q.Hand(&changes_[0], 1s));
  ASSERT_TRUE(q.Hand(&changes_[1], 1s));
  now_ = 1s + 250ms;
  ASSERT_TRUE(q.Write(fds_[0], Clock(), Line()).ok());
  EXPECT_EQ(Drain(), "k0 1250000000 " + std::string(16, 'x') + "\nk1 1250000000 " + std::string(16, 'x') + "\n");
  EXPECT_EQ(q.worst_wait(), 250ms);
  EXPECT_EQ(q.worst_wait_at(), 1s);
  ASSERT_TRUE(q.EarliestWritten().has_value());
  EXPECT_EQ(*q.EarliestWritten(), 1s + 250ms);
  ChangeQueue::Entry e;
  ASSERT_TRUE(q.Answered(&e));
  EXPECT_EQ(e.change, &changes_[0]);
  EXPECT_EQ(e.handed, 1s);
  EXPECT_EQ(e.written, 1s + 250ms);
  ASSERT_TRUE(q.Answered(&e));
  EXPECT_EQ(e.change, &changes_[1]);
  EXPECT_FALSE(q.Answered(&e));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.EarliestWritten().has_value());
}

TEST_F(ChangeQueueTest, APartlyWrittenLineHoldsTheRecorderAtItsWriteTime) {
  pad_ = 20000;  // more than the socket takes at once
  ChangeQueue q(4);
  ASSERT_TRUE(q.Hand(&changes_[0], 1s));
  now_ = 2s;
  ASSERT_TRUE(q.Write(fds_[0], Clock(), Line()).ok());
  EXPECT_EQ(q.awaiting_answer(), 0u);
  EXPECT_TRUE(q.wants_write());
  ASSERT_TRUE(q.EarliestWritten().has_value());  // stamped although not wholly written
  EXPECT_EQ(*q.EarliestWritten(), 2s);
  ASSERT_NE(q.OldestUnwritten(), nullptr);
  EXPECT_EQ(q.OldestAwaitingAnswer(), nullptr);
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.wants_write());
}

TEST_F(ChangeQueueTest, ALineOverTheProtocolsBoundIsRefused) {
  pad_ = control::kMaxRequestLineBytes;
  ChangeQueue q(4);
  ASSERT_TRUE(q.Hand(&changes_[0], 1s));
  const Status st = q.Write(fds_[0], Clock(), Line());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bound"), std::string::npos) << st.message();
}

TEST_F(ChangeQueueTest, ASocketClosedByTheDaemonIsAnError) {
  ChangeQueue q(4);
  ASSERT_TRUE(q.Hand(&changes_[0], 1s));
  close(fds_[1]);
  fds_[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const Status st = q.Write(fds_[0], Clock(), Line());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("send"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace pbxstate::runner::netns_run
