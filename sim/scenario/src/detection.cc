#include "pbxstate/scenario/detection.h"

#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario {
namespace {

constexpr std::string_view kDetection = "detection";

std::size_t SkipSpaces(std::string_view text, std::size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  return i;
}

}  // namespace

DetectionPrefix ReadDetectionPrefix(std::string_view text, std::size_t at) {
  DetectionPrefix p;
  p.value_at = at;
  if (text.substr(at, kDetection.size()) != kDetection) return p;
  std::size_t i = SkipSpaces(text, at + kDetection.size());
  if (i >= text.size() || text[i] != '+') {
    p.error_at = i;
    return p;
  }
  p.present = true;
  p.value_at = SkipSpaces(text, i + 1);
  return p;
}

std::variant<DetectionRelative, DetectionRelativeError> ParseDetectionRelative(std::string_view text) {
  const std::size_t start = SkipSpaces(text, 0);
  const DetectionPrefix prefix = ReadDetectionPrefix(text, start);
  if (prefix.error_at) return DetectionRelativeError{*prefix.error_at, std::string(kDetectionPrefixExpected)};
  std::size_t end = text.size();
  while (end > prefix.value_at && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  const std::string_view value = text.substr(prefix.value_at, end - prefix.value_at);
  const auto d = ParseDuration(value);
  if (!d) {
    return DetectionRelativeError{prefix.value_at, std::string("expected a duration with a unit (ns, us, ms, s, min, h)") +
                                                       (prefix.present ? " after 'detection +'" : " or 'detection + <duration>'") +
                                                       ", e.g. " + (prefix.present ? "'detection + 10s'" : "10s") +
                                                       ", got '" + std::string(value) + "'"};
  }
  return DetectionRelative{*d, prefix.present};
}

std::string FormatDetectionRelative(const DetectionRelative& d) {
  return d.plus_detection ? "detection + " + FormatDuration(d.constant) : FormatDuration(d.constant);
}

}  // namespace pbxstate::scenario
