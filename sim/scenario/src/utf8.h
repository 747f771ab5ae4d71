// UTF-8, as scenario files must be written: everything read from them ends up in run.json, the
// CSV files and the report pages, which are UTF-8, so invalid text is refused at the door.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pbxstate::scenario::detail {

// The offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence); nullopt
// when all of `text` is UTF-8.
std::optional<std::size_t> FindInvalidUtf8(std::string_view text);

// The code point starting at text[i], which must begin a well-formed sequence; advances `i`
// past it.
char32_t DecodeUtf8(std::string_view text, std::size_t& i);

// Control characters: C0 (U+0000..U+001F), DEL and C1 (U+0080..U+009F).
bool IsControlCharacter(char32_t c);
// Spaces: ASCII space, and Unicode's space separators and the line and paragraph separators
// (U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
bool IsSpaceCharacter(char32_t c);

// `text` for a message, on one line and with nothing invisible: C0 controls, DEL and the bytes
// of invalid sequences as \xHH, C1 controls and spaces other than ' ' as \uHHHH, the rest as
// is; cut to at most `max_bytes` bytes of the original at a character boundary, with "..."
// when cut. Always valid UTF-8.
std::string PrintableText(std::string_view text, std::size_t max_bytes = std::string_view::npos);

// "U+00E9" for messages.
std::string CodePointName(char32_t c);

}  // namespace pbxstate::scenario::detail
