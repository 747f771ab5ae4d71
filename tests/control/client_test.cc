// The socket client against a scripted server on a real Unix socket (a thread of this test that
// answers the way pbxstated does: in order, one blocking write per response). The daemon itself is
// driven through this client by the live tests.
#include "pbxstate/control/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace pbxstate::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Accepts one connection on a fresh socket and runs `serve(fd)` on a thread.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int)> serve) {
    char tmpl[] = "/tmp/pbxst-client-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/c.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    thread_ = std::thread([this, serve] {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) {
        serve(fd);
        close(fd);
      }
    });
  }
  ~ScriptedServer() {
    thread_.join();
    close(listen_fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  int listen_fd_ = -1;
  std::thread thread_;
};

// Reads one line (blocking); empty at end of stream.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

void WriteAll(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = write(fd, s.data() + off, s.size() - off);
    if (w <= 0) return;
    off += static_cast<std::size_t>(w);
  }
}

TEST(ControlClient, CallDecodesRepliesAndRefusals) {
  ScriptedServer server([](int fd) {
    // Every request is parsed with the daemon's parser and answered by op.
    for (std::string line = ReadLine(fd); !line.empty(); line = ReadLine(fd)) {
      auto parsed = ParseRequest(line);
      if (auto* e = std::get_if<Error>(&parsed)) {
        WriteAll(fd, ErrorLine(*e));
      } else if (std::get<Request>(parsed).op == Op::kHello) {
        WriteAll(fd, ResponseLine(EncodeReply(HelloReply{2, "n2", 5, 6, "g", {1, 2}, 3, false})));
      } else {
        WriteAll(fd, ErrorLine({ErrorCode::kInvalidArgument, "device name is empty"}));
      }
    }
  });
  std::unique_ptr<Client> c;
  ASSERT_TRUE(Client::Connect(server.path(), 5s, &c).ok());
  HelloReply hello;
  ASSERT_TRUE(c->CallFor(Request::Simple(Op::kHello), 5s, &hello).ok());
  EXPECT_EQ(hello.node, 2u);
  EXPECT_EQ(hello.members, (std::vector<NodeId>{1, 2}));
  TimeReply t;
  const Status st = c->CallFor(Request::SetDevice("", DeviceState::kInUse), 5s, &t);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "pbxstated: invalid_argument: device name is empty");
  json raw;
  ASSERT_TRUE(c->CallLine(R"({"op":"set_device","device":"x","state":"SLEEPY"})", 5s, &raw).ok());
  EXPECT_EQ(raw["code"], "bad_request");
  EXPECT_NE(raw["error"].get<std::string>().find("'state'"), std::string::npos);
}

TEST(ControlClient, PipelineNeverDeadlocksOnFullSockets) {
  // Responses much larger than requests: a client that sent everything before reading would fill
  // both socket buffers and wait forever on a server blocked writing to it.
  constexpr int kRequests = 3000;
  const std::string pad(2000, 'p');
  ScriptedServer server([&pad](int fd) {
    int i = 0;
    for (std::string line = ReadLine(fd); !line.empty(); line = ReadLine(fd)) {
      WriteAll(fd, ResponseLine(json{{"ok", true}, {"t_mono_ns", i++}, {"pad", pad}}));
    }
  });
  std::unique_ptr<Client> c;
  ASSERT_TRUE(Client::Connect(server.path(), 5s, &c).ok());
  std::vector<Request> requests;
  for (int i = 0; i < kRequests; ++i) {
    requests.push_back(Request::Register("aor" + std::to_string(i), "sip:x", 1));
  }
  std::vector<json> responses;
  const Status st = c->Pipeline(requests, 60s, &responses);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(responses.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(responses[i]["t_mono_ns"], i);
}

TEST(ControlClient, EventStreamDecodesEventsUntilTheEnd) {
  ScriptedServer server([](int fd) {
    EXPECT_EQ(json::parse(ReadLine(fd))["op"], "subscribe");
    // The answer and the first events in one write: the client must keep what follows the answer.
    ViewChange c{};
    c.kind = EntryKind::kDevice;
    c.cause = ChangeCause::kRemote;
    c.key = "Custom:mystate";
    c.origin = 1;
    c.new_aggregate = DeviceState::kInUse;
    WriteAll(fd, ResponseLine(EncodeReply(TimeReply{11})) + EventLine(EncodeViewChange(c, 12)) +
                     EventLine(EncodeEvent(MembersEvent{13, {1, 2}, 4})));
    WriteAll(fd, EventLine(EncodeEvent(StoppingEvent{14})));
  });
  std::unique_ptr<EventStream> s;
  std::int64_t t = 0;
  ASSERT_TRUE(EventStream::Open(server.path(), 5s, &s, &t).ok());
  EXPECT_EQ(t, 11);
  std::vector<Event> events;
  bool closed = false;
  for (int i = 0; i < 500 && !closed; ++i) ASSERT_TRUE(s->Wait(10ms, &events, &closed).ok());
  EXPECT_TRUE(closed);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<ViewEvent>(events[0]).view.change().key, "Custom:mystate");
  EXPECT_EQ(std::get<MembersEvent>(events[1]).members, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(std::get<StoppingEvent>(events[2]).t_mono_ns, 14);
}

// A burst read in slices of one event: a slice takes at most one 64 KiB chunk of the socket and
// leaves the rest there, so a burst of about 300 KiB takes several; together they hold every event
// once, in the order written.
TEST(ControlClient, EventStreamReadsABurstInSlices) {
  constexpr int kBurst = 5000;
  auto line = [](int i) { return EventLine(EncodeEvent(MembersEvent{100 + i, {1, 2}, 4})); };
  ScriptedServer server([&line](int fd) {
    EXPECT_EQ(json::parse(ReadLine(fd))["op"], "subscribe");
    std::string burst = ResponseLine(EncodeReply(TimeReply{1}));
    for (int i = 0; i < kBurst; ++i) burst += line(i);
    WriteAll(fd, burst);
    WriteAll(fd, EventLine(EncodeEvent(StoppingEvent{1})));
  });
  const std::size_t most_per_chunk = 65536 / line(0).size() + 1;
  std::unique_ptr<EventStream> s;
  std::int64_t t = 0;
  ASSERT_TRUE(EventStream::Open(server.path(), 5s, &s, &t).ok());
  std::vector<Event> events;
  bool closed = false, drained = false;
  int partial_slices = 0;
  for (int i = 0; i < 20000 && !closed; ++i) {
    const std::size_t before = events.size();
    ASSERT_TRUE(s->ReadSlice(&events, before + 1, &closed, &drained).ok());
    // The first slice also decodes what Open received after the subscribe answer.
    if (i > 0) {
      EXPECT_LE(events.size() - before, most_per_chunk);
    }
    if (!drained) ++partial_slices;
    if (drained && !closed) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(partial_slices, static_cast<int>(kBurst / most_per_chunk));
  ASSERT_EQ(events.size(), kBurst + 1u);
  for (int i = 0; i < kBurst; ++i) EXPECT_EQ(std::get<MembersEvent>(events[i]).t_mono_ns, 100 + i);
}

TEST(ControlClient, ConnectGivesUpAtItsDeadline) {
  std::unique_ptr<Client> c;
  const auto t0 = std::chrono::steady_clock::now();
  const Status st = Client::Connect("/tmp/pbxst-no-such-dir/c.sock", 50ms, &c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/tmp/pbxst-no-such-dir/c.sock"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
}  // namespace pbxstate::control
