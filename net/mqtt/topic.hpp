#pragma once

#include <string_view>

namespace mqhub::net::mqtt {

/// A topic name for PUBLISH (spec 4.7): non-empty, no '+', '#' or U+0000, at most 65535 bytes. UTF-8
/// well-formedness is the decoder's check (is_valid_utf8_string), not repeated here.
bool is_valid_topic_name(std::string_view topic);

/// A topic filter for SUBSCRIBE/UNSUBSCRIBE (spec 4.7.1): non-empty, '+' and '#' occupy a whole level, '#'
/// last. Shared subscriptions `$share/{group}/{filter}` must have a non-empty group without wildcards and a
/// valid filter.
bool is_valid_topic_filter(std::string_view filter);

/// Whether `topic` matches `filter`; topics starting with '$' are not matched by a leading '+' or '#'
/// (MQTT-4.7.2-1). `filter` is a plain filter (no `$share/` prefix).
bool topic_matches(std::string_view filter, std::string_view topic);

/// Well-formed UTF-8 without U+0000 and without surrogates (MQTT-1.5.4-1, -2).
bool is_valid_utf8_string(std::string_view s);

/// Well-formed UTF-8 without surrogates, U+0000 allowed: a payload whose payload format indicator is 1 is
/// UTF-8 character data, not a UTF-8 encoded string (spec 3.3.2.3.2).
bool is_well_formed_utf8(std::string_view s);

/// Splits `$share/{group}/{filter}`; returns false for a filter that is not a shared subscription (no
/// `$share/` prefix or no '/' after the group). Does not validate group or filter: see is_valid_topic_filter.
bool split_shared_filter(std::string_view filter, std::string_view& group, std::string_view& plain_filter);

}  // namespace mqhub::net::mqtt
