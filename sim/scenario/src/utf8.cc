#include "utf8.h"

#include <cstdint>
#include <cstdio>

namespace pbxstate::scenario::detail {
namespace {

// The length of the well-formed sequence at text[i], or 0 when there is none (Unicode's
// table 3-7 of well-formed byte sequences).
std::size_t SequenceLength(std::string_view text, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(text[i + k]); };
  const std::size_t left = text.size() - i;
  const std::uint8_t b0 = b(0);
  if (b0 < 0x80) return 1;
  auto cont = [&](std::size_t k, std::uint8_t lo = 0x80, std::uint8_t hi = 0xBF) {
    return k < left && b(k) >= lo && b(k) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;  // <= U+10FFFF
  return 0;
}

std::string Hex(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*X", digits, value);
  return buf;
}

}  // namespace

std::optional<std::size_t> FindInvalidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = SequenceLength(text, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

char32_t DecodeUtf8(std::string_view text, std::size_t& i) {
  const std::size_t n = SequenceLength(text, i);
  const auto b = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<std::uint8_t>(text[i + k]));
  };
  char32_t c = b(0);  // also a byte that begins no well-formed sequence, taken alone
  if (n == 2) c = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) c = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  if (n == 4) {
    c = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
  i += n == 0 ? 1 : n;
  return c;
}

bool IsControlCharacter(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

bool IsSpaceCharacter(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string PrintableText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = SequenceLength(text, i);
    const std::size_t width = n == 0 ? 1 : n;
    if (max_bytes != std::string_view::npos && i + width > max_bytes) {
      out += "...";
      break;
    }
    if (n == 0) {
      out += "\\x" + Hex(static_cast<std::uint8_t>(text[i]), 2);
      ++i;
      continue;
    }
    std::size_t j = i;
    const char32_t c = DecodeUtf8(text, j);
    if (c < 0x20 || c == 0x7F) {
      out += "\\x" + Hex(static_cast<unsigned>(c), 2);
    } else if (IsControlCharacter(c) || (c != ' ' && IsSpaceCharacter(c))) {
      out += "\\u" + Hex(static_cast<unsigned>(c), 4);
    } else {
      out.append(text.substr(i, n));
    }
    i = j;
  }
  return out;
}

std::string CodePointName(char32_t c) { return "U+" + Hex(static_cast<unsigned>(c), 4); }

}  // namespace pbxstate::scenario::detail
