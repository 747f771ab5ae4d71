// CsvField writes one RFC 4180 field: quoted, quotes doubled, everything else (commas, line
// breaks, UTF-8) as is. Byte for byte what Python's csv module writes with QUOTE_ALL, and what
// its reader (reports/runrecord.py) turns back into the original text.
#include "pbxstate/harness/csv.h"

#include <gtest/gtest.h>

namespace pbxstate::harness {
namespace {

TEST(CsvField, QuotesEveryFieldAndDoublesQuotes) {
  EXPECT_EQ(CsvField(""), "\"\"");
  EXPECT_EQ(CsvField("Custom:mystate"), "\"Custom:mystate\"");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("x\",9"), "\"x\"\",9\"");
  EXPECT_EQ(CsvField("\"\""), "\"\"\"\"\"\"");
  EXPECT_EQ(CsvField("line\nbreak\r\n"), "\"line\nbreak\r\n\"");
  EXPECT_EQ(CsvField("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
}

}  // namespace
}  // namespace pbxstate::harness
