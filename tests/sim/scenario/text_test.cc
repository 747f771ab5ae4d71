// What a scenario file must be before its YAML is read: a regular file of at most
// kMaxScenarioBytes (text_file.h), UTF-8 (utf8.h), named in UTF-8; and what names in it may
// hold: any script, no spaces, no control characters.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/text_file.h"
#include "utf8.h"

namespace pbxstate::scenario {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the test's temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pbxstate-text-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string FirstError(const LoadResult& r) {
  EXPECT_FALSE(r.ok());
  return r.errors.empty() ? "" : r.errors.front().ToString();
}

constexpr const char* kHead = "name: t\nduration: 10s\ncluster: {nodes: 3}\n";

// --- UTF-8 ---

TEST(Utf8, FindsTheFirstByteOfAnIllFormedSequence) {
  using detail::FindInvalidUtf8;
  EXPECT_EQ(FindInvalidUtf8("plain ASCII"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x93\x9E"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("\xF4\x8F\xBF\xBF"), std::nullopt);  // U+10FFFF, the last one
  EXPECT_EQ(FindInvalidUtf8("caf\xE9"), 3u);                      // Latin-1
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);                       // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("a\xC3xy"), 1u);                      // truncated mid-text
  EXPECT_EQ(FindInvalidUtf8("\xC0\x80"), 0u);                     // overlong NUL
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);                 // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);                // a surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);             // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0u);                         // a lone continuation
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0u);
}

TEST(Utf8, PrintableTextShowsWhatIsInvisibleAndCutsAtACharacter) {
  using detail::PrintableText;
  EXPECT_EQ(PrintableText("a\tb\x7F"), "a\\x09b\\x7F");
  EXPECT_EQ(PrintableText("a\xC2\xA0" "b"), "a\\u00A0b");         // a no-break space
  EXPECT_EQ(PrintableText("a\xC2\x85" "b"), "a\\u0085b");         // a C1 control
  EXPECT_EQ(PrintableText("caf\xE9"), "caf\\xE9");
  EXPECT_EQ(PrintableText("caf\xC3\xA9"), "caf\xC3\xA9");
  // 'é' is two bytes: a cut after 4 bytes must not split it.
  EXPECT_EQ(PrintableText("caf\xC3\xA9s", 4), "caf...");
  EXPECT_EQ(PrintableText("caf\xC3\xA9s", 5), "caf\xC3\xA9...");
}

TEST(Utf8, AFileThatIsNotUtf8IsRefusedWhereTheByteIs) {
  const std::string yaml = std::string(kHead) + "description: \"d\xC3\xA9j\xE0 vu\"\n";
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "t.yaml:4:19: description: expected UTF-8 text, got the byte 0xE0, which is not part "
            "of a UTF-8 character (save the file as UTF-8)");
}

TEST(Utf8, ABadByteInAKeyNamesTheKeyPrintably) {
  LoadResult r = LoadScenarioString(std::string(kHead) + "caf\xE9: 1\n", "t.yaml");
  EXPECT_EQ(FirstError(r),
            "t.yaml:4:4: caf\\xE9: expected UTF-8 text, got the byte 0xE9, which is not part of a "
            "UTF-8 character (save the file as UTF-8)");
}

TEST(Utf8, AFileNameThatIsNotUtf8IsRefused) {
  LoadResult r = LoadScenarioString(kHead, "caf\xE9.yaml");
  EXPECT_EQ(FirstError(r),
            "caf\\xE9.yaml: the file name is not UTF-8 (byte 4); expected a UTF-8 file name");
}

TEST(Utf8, MessagesCutLongNamesAtACharacterBoundary) {
  std::string name;
  for (int i = 0; i < 30; ++i) name += "\xC3\xA9";  // 60 bytes of 'é'
  const std::string yaml = std::string(kHead) + "workload:\n  changes:\n" +
                           "    - {at: 1s, node: 1, device: '" + name + " x', state: INUSE}\n";
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  const std::string e = FirstError(r);
  EXPECT_EQ(detail::FindInvalidUtf8(e), std::nullopt) << e;
  EXPECT_NE(e.find("without spaces, got '" + name.substr(0, 36) + "...'"), std::string::npos) << e;
}

// --- names ---

TEST(Names, AnyScriptIsAName) {
  LoadResult r = LoadScenarioString(
      std::string(kHead) +
          "workload:\n  changes:\n"
          "    - {at: 1s, node: 1, device: \"Custom:caf\xC3\xA9\", state: INUSE}\n"
          "    - {at: 1s, node: 2, device: \"\xE6\x97\xA5\xE6\x9C\xAC:\xE9\x9B\xBB\", "
          "state: BUSY}\n"
          "    - {at: 1s, node: 2, mailbox: \"100@cr\xC3\xA8" "che\", new: 1}\n"
          "    - {at: 1s, node: 3, aor: \"\xF0\x9F\x93\x9E\", contact: \"sip:\xC3\xA9@h\"}\n",
      "t.yaml");
  ASSERT_TRUE(r.ok()) << FirstError(r);
  const auto& c = r.scenario->workload.changes;
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(std::get<DeviceChange>(c[0].what).device, "Custom:caf\xC3\xA9");
  EXPECT_EQ(std::get<DeviceChange>(c[1].what).device, "\xE6\x97\xA5\xE6\x9C\xAC:\xE9\x9B\xBB");
  EXPECT_EQ(std::get<MailboxChange>(c[2].what).mailbox, "100@cr\xC3\xA8" "che");
  EXPECT_EQ(std::get<RegistrationSet>(c[3].what).aor, "\xF0\x9F\x93\x9E");
}

TEST(Names, CommasAndQuotesAreLegalInNames) {
  LoadResult r = LoadScenarioString(
      std::string(kHead) + "workload:\n  changes:\n"
                           "    - {at: 1s, node: 1, device: 'Custom:x\",9', state: INUSE}\n",
      "t.yaml");
  ASSERT_TRUE(r.ok()) << FirstError(r);
  EXPECT_EQ(std::get<DeviceChange>(r.scenario->workload.changes[0].what).device, "Custom:x\",9");
}

TEST(Names, AControlCharacterInAContactIsRefusedForWhatItIs) {
  LoadResult r = LoadScenarioString(
      std::string(kHead) + "workload:\n  changes:\n"
                           "    - {at: 1s, node: 1, aor: a, contact: \"sip:a\\x01b\"}\n",
      "t.yaml");
  EXPECT_EQ(FirstError(r),
            "t.yaml:6:42: workload.changes[0].contact: expected a SIP URI (sip:... or sips:...) "
            "without control characters, got 'sip:a\\x01b' (U+0001 at byte 6)");
}

// --- the file ---

TEST(File, AFifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  const fs::path fifo = dir.path() / "s.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  LoadResult r = LoadScenarioFile(fifo);  // would block forever if it opened the FIFO
  EXPECT_EQ(FirstError(r),
            fifo.string() + ": is a FIFO (named pipe); expected a scenario file (a regular file)");
}

TEST(File, ADeviceIsRefusedWithoutReadingIt) {
  EXPECT_EQ(FirstError(LoadScenarioFile("/dev/zero")),
            "/dev/zero: is a character device; expected a scenario file (a regular file)");
}

TEST(File, AFileOverTheBoundIsRefusedWithoutReadingIt) {
  TempDir dir;
  const fs::path big = dir.path() / "big.yaml";
  { std::ofstream(big) << kHead; }
  fs::resize_file(big, kMaxScenarioBytes + 1);  // sparse: costs no disk
  EXPECT_EQ(FirstError(LoadScenarioFile(big)),
            big.string() + ": is 16777217 bytes; expected a scenario file of at most 16777216 "
                           "bytes (16 MiB)");
}

TEST(File, TheBoundIsExactAndNoMoreIsRead) {
  TempDir dir;
  const fs::path f = dir.path() / "f";
  { std::ofstream(f) << "0123456789"; }
  std::string text;
  EXPECT_EQ(ReadBoundedFile(f, 10, &text), std::nullopt);
  EXPECT_EQ(text, "0123456789");
  const auto problem = ReadBoundedFile(f, 9, &text);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->kind, FileProblem::Kind::kTooLarge);
  EXPECT_EQ(problem->what, "is 10 bytes");
}

TEST(File, ASymlinkToADeviceIsTheDevice) {
  TempDir dir;
  const fs::path link = dir.path() / "s.yaml";
  fs::create_symlink("/dev/zero", link);
  EXPECT_EQ(FirstError(LoadScenarioFile(link)),
            link.string() + ": is a character device; expected a scenario file (a regular file)");
}

}  // namespace
}  // namespace pbxstate::scenario
