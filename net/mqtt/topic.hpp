#pragma once

#include <string_view>

namespace mqhub::net::mqtt {

/// A topic name for PUBLISH (spec 4.7): non-empty, no '+' or '#', at most 65535 bytes.
bool is_valid_topic_name(std::string_view topic);

/// A topic filter for SUBSCRIBE/UNSUBSCRIBE (spec 4.7.1): non-empty, '+' and '#' occupy a whole level, '#' last.
/// Shared subscriptions `$share/{group}/{filter}` must have a non-empty group without wildcards and a valid filter.
bool is_valid_topic_filter(std::string_view filter);

/// Whether `topic` matches `filter`; topics starting with '$' are not matched by a leading '+' or '#'
/// (MQTT-4.7.2-1). `filter` is a plain filter (no `$share/` prefix).
bool topic_matches(std::string_view filter, std::string_view topic);

/// Well-formed UTF-8 without U+0000 and without surrogates (MQTT-1.5.4-1, -2).
bool is_valid_utf8_string(std::string_view s);

/// Splits `$share/{group}/{filter}`; returns false for a filter that is not a shared subscription.
bool split_shared_filter(std::string_view filter, std::string_view& group, std::string_view& plain_filter);

}  // namespace mqhub::net::mqtt
