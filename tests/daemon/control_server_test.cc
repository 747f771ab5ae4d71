// The control server's bounds and ordering over a real Unix socket, with a scripted RequestFn
// standing in for the daemon (the live test drives the real one).
#include "control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "pbxstate/control/protocol.h"

namespace pbxstate::daemon {
namespace {

using control::kMaxControlConnections;
using control::kMaxRequestLineBytes;
using control::kMaxSubscriberBufferBytes;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pbxst-ctl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/c.sock";
    server_ = std::make_unique<ControlServer>(
        [this](std::string_view line) {
          ControlServer::Reply r;
          seen_.emplace_back(line);
          r.line = "{\"echo\":" + std::string(line) + "}\n";
          r.subscribe = line == "\"sub\"";
          return r;
        },
        nullptr);
    ASSERT_TRUE(server_->Listen(path_).ok());
  }
  void TearDown() override {
    for (int fd : clients_) ::close(fd);
    server_.reset();
    ::rmdir(dir_.c_str());
  }

  int Connect() {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    clients_.push_back(fd);
    Pump();
    return fd;
  }
  void Send(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (w <= 0) {
        Pump();
        continue;
      }
      off += static_cast<std::size_t>(w);
      Pump();
    }
  }
  // Runs the server until it has nothing more to do right now.
  void Pump() {
    for (int i = 0; i < 50; ++i) {
      pollfd p{server_->fd(), POLLIN, 0};
      if (::poll(&p, 1, 5) <= 0) return;
      server_->Dispatch();
    }
  }
  // Reads what the server sent (waits up to 1 s for `want` lines or end of stream).
  std::string Read(int fd, std::size_t want_lines, bool* eof = nullptr) {
    std::string got;
    for (int i = 0; i < 200; ++i) {
      Pump();
      char buf[65536];
      const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) {
        if (eof != nullptr) *eof = true;
        break;
      }
      if (r > 0) got.append(buf, static_cast<std::size_t>(r));
      std::size_t lines = 0;
      for (char c : got) lines += c == '\n' ? 1 : 0;
      if (lines >= want_lines && eof == nullptr) break;
      if (r < 0) ::usleep(5000);
    }
    return got;
  }

  std::string dir_, path_;
  std::unique_ptr<ControlServer> server_;
  std::vector<std::string> seen_;
  std::vector<int> clients_;
};

TEST_F(ControlServerTest, PipelinedRequestsAreAnsweredInOrder) {
  const int fd = Connect();
  Send(fd, "1\n2\r\n\n3\n");
  EXPECT_EQ(Read(fd, 3), "{\"echo\":1}\n{\"echo\":2}\n{\"echo\":3}\n");
  EXPECT_EQ(seen_, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(server_->stats().requests, 3u);
}

TEST_F(ControlServerTest, OverlongLineIsRefusedAndTheConnectionClosed) {
  const int fd = Connect();
  Send(fd, std::string(kMaxRequestLineBytes + 10, 'x'));
  bool eof = false;
  const std::string got = Read(fd, 1, &eof);
  EXPECT_NE(got.find("\"code\":\"bad_request\""), std::string::npos) << got;
  EXPECT_TRUE(eof);
  EXPECT_TRUE(seen_.empty());
  EXPECT_EQ(server_->stats().lines_too_long, 1u);
}

TEST_F(ControlServerTest, ConnectionsBeyondTheBoundAreRefusedWithResourceExhausted) {
  for (std::size_t i = 0; i < kMaxControlConnections; ++i) Connect();
  EXPECT_EQ(server_->connections(), kMaxControlConnections);
  const int extra = Connect();
  bool eof = false;
  const std::string got = Read(extra, 1, &eof);
  EXPECT_NE(got.find("\"code\":\"resource_exhausted\""), std::string::npos) << got;
  EXPECT_TRUE(eof);
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  // The others still work.
  Send(clients_[0], "7\n");
  EXPECT_EQ(Read(clients_[0], 1), "{\"echo\":7}\n");
}

TEST_F(ControlServerTest, SubscribersGetEventsAndTakeNoMoreRequests) {
  const int sub = Connect();
  Send(sub, "\"sub\"\n");
  EXPECT_EQ(Read(sub, 1), "{\"echo\":\"sub\"}\n");
  EXPECT_EQ(server_->subscribers(), 1u);
  Send(sub, "9\n");  // ignored: an event stream takes no requests
  server_->Publish("{\"event\":\"x\"}\n");
  EXPECT_EQ(Read(sub, 1), "{\"event\":\"x\"}\n");
  EXPECT_EQ(seen_.size(), 1u);
}

TEST_F(ControlServerTest, ASubscriberThatFallsTooFarBehindIsDisconnectedAndCounted) {
  const int sub = Connect();
  Send(sub, "\"sub\"\n");
  Read(sub, 1);
  // The client stops reading; the kernel buffers some, the server holds at most 16 MiB.
  const std::string event = "{\"event\":\"" + std::string(64 * 1024, 'e') + "\"}\n";
  std::size_t published = 0;
  while (server_->subscribers() == 1 && published < 2 * kMaxSubscriberBufferBytes / event.size() + 1000) {
    server_->Publish(event);
    ++published;
  }
  EXPECT_EQ(server_->subscribers(), 0u);
  EXPECT_EQ(server_->stats().subscribers_dropped, 1u);
  EXPECT_GE(published * event.size(), kMaxSubscriberBufferBytes);
  // The client sees the end of the stream after what was buffered, never a silent gap.
  bool eof = false;
  std::string drained;
  for (int i = 0; i < 2000 && !eof; ++i) drained += Read(sub, 1u << 30, &eof);
  EXPECT_TRUE(eof);
}

TEST_F(ControlServerTest, CloseRemovesTheSocketFile) {
  EXPECT_EQ(::access(path_.c_str(), F_OK), 0);
  server_->Close();
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);
}

TEST_F(ControlServerTest, ListenCreatesAMissingParentDirectory) {
  const std::string sub = dir_ + "/run";
  ControlServer other([](std::string_view) { return ControlServer::Reply{}; }, nullptr);
  ASSERT_TRUE(other.Listen(sub + "/c.sock").ok());
  struct stat st {};
  ASSERT_EQ(::stat(sub.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((sub + "/c.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  other.Close();
  ::rmdir(sub.c_str());
}

TEST_F(ControlServerTest, ListenRefusesAPathThatIsNotASocket) {
  const std::string file = dir_ + "/plain";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  ControlServer other([](std::string_view) { return ControlServer::Reply{}; }, nullptr);
  const Status s = other.Listen(file);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a socket"), std::string::npos);
  ::unlink(file.c_str());
}

}  // namespace
}  // namespace pbxstate::daemon
