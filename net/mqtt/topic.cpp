#include "net/mqtt/topic.hpp"

#include <cstdint>
#include <cstring>

namespace mqhub::net::mqtt {

namespace {

constexpr std::string_view share_prefix = "$share/";
constexpr size_t max_string_length = 65'535;

// A plain filter: '+' and '#' each fill a whole level and '#' is the last one (MQTT-4.7.1-1, -2).
bool is_valid_plain_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > max_string_length) {
    return false;
  }
  size_t level_start = 0;
  for (size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c == '/') {
      level_start = i + 1;
      continue;
    }
    if (c != '+' && c != '#') {
      continue;
    }
    const bool alone = i == level_start && (i + 1 == filter.size() || filter[i + 1] == '/');
    if (!alone || (c == '#' && i + 1 != filter.size())) {
      return false;
    }
  }
  return true;
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, nothing above U+10FFFF) without surrogates.
bool is_well_formed(std::string_view s, bool allow_null) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Most topics and strings are ASCII: check eight bytes at a time.
    if (end - p >= 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, 8);
      constexpr uint64_t high_bits = 0x8080808080808080ULL;
      constexpr uint64_t ones = 0x0101010101010101ULL;
      const bool any_zero = ((word - ones) & ~word & high_bits) != 0;
      if ((word & high_bits) == 0 && (allow_null || !any_zero)) {
        p += 8;
        continue;
      }
    }
    const uint8_t c = *p;
    if (c < 0x80) {
      if (c == 0 && !allow_null) {
        return false;
      }
      ++p;
      continue;
    }
    size_t extra = 0;
    uint8_t low = 0x80;
    uint8_t high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) {
        low = 0xA0;  // overlong
      } else if (c == 0xED) {
        high = 0x9F;  // U+D800..U+DFFF are surrogates, MQTT-1.5.4-1
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) {
        low = 0x90;  // overlong
      } else if (c == 0xF4) {
        high = 0x8F;  // above U+10FFFF
      }
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= extra) {
      return false;
    }
    if (p[1] < low || p[1] > high) {
      return false;
    }
    for (size_t i = 2; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        return false;
      }
    }
    p += extra + 1;
  }
  return true;
}

}  // namespace

bool is_valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > max_string_length) {
    return false;
  }
  // A plain loop: string_view::find_first_of calls memchr over the set once per character.
  for (const char c : topic) {
    if (c == '+' || c == '#' || c == '\0') {
      return false;
    }
  }
  return true;
}

bool is_valid_topic_filter(std::string_view filter) {
  if (filter.starts_with(share_prefix)) {
    std::string_view group;
    std::string_view plain;
    return filter.size() <= max_string_length && split_shared_filter(filter, group, plain) &&
           !group.empty() && group.find_first_of("+#") == std::string_view::npos &&
           is_valid_plain_filter(plain);
  }
  return is_valid_plain_filter(filter) && filter.find('\0') == std::string_view::npos;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;  // MQTT-4.7.2-1
  }
  size_t f = 0;
  size_t t = 0;
  bool topic_done = false;
  while (true) {
    size_t f_end = filter.find('/', f);
    if (f_end == std::string_view::npos) {
      f_end = filter.size();
    }
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") {
      return true;  // also matches the parent level: "sport/#" matches "sport"
    }
    if (topic_done) {
      return false;
    }
    size_t t_end = topic.find('/', t);
    if (t_end == std::string_view::npos) {
      t_end = topic.size();
    }
    if (f_level != "+" && f_level != topic.substr(t, t_end - t)) {
      return false;
    }
    const bool f_last = f_end == filter.size();
    const bool t_last = t_end == topic.size();
    if (f_last) {
      return t_last;
    }
    f = f_end + 1;
    if (t_last) {
      topic_done = true;
    } else {
      t = t_end + 1;
    }
  }
}

bool is_valid_utf8_string(std::string_view s) {
  return is_well_formed(s, false);
}

bool is_well_formed_utf8(std::string_view s) {
  return is_well_formed(s, true);
}

bool split_shared_filter(std::string_view filter, std::string_view& group, std::string_view& plain_filter) {
  if (!filter.starts_with(share_prefix)) {
    return false;
  }
  const std::string_view rest = filter.substr(share_prefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  group = rest.substr(0, slash);
  plain_filter = rest.substr(slash + 1);
  return true;
}

}  // namespace mqhub::net::mqtt
