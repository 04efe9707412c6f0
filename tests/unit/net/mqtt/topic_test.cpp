#include <gtest/gtest.h>

#include <string>

#include "net/mqtt/topic.hpp"

namespace mqhub::net::mqtt {
namespace {

TEST(topic, multi_level_wildcard_matches_the_parent_and_every_child) {
  // Spec 4.7.1.2 example
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  EXPECT_TRUE(topic_matches("sport/#", "sport"));
  EXPECT_TRUE(topic_matches("#", "sport/tennis"));
  EXPECT_FALSE(topic_matches("sport/tennis/#", "sport"));
}

TEST(topic, multi_level_wildcard_must_be_last_and_alone) {
  // MQTT-4.7.1-2 and the 4.7.1.2 examples
  EXPECT_TRUE(is_valid_topic_filter("#"));
  EXPECT_TRUE(is_valid_topic_filter("sport/tennis/#"));
  EXPECT_FALSE(is_valid_topic_filter("sport/tennis#"));
  EXPECT_FALSE(is_valid_topic_filter("sport/tennis/#/ranking"));
  EXPECT_FALSE(is_valid_topic_filter("#/"));
}

TEST(topic, single_level_wildcard_matches_exactly_one_level) {
  // Spec 4.7.1.3 examples
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player2"));
  EXPECT_FALSE(topic_matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  EXPECT_FALSE(topic_matches("sport/+", "sport"));
  EXPECT_TRUE(topic_matches("sport/+", "sport/"));
}

TEST(topic, single_level_wildcard_matches_empty_levels) {
  // Spec 4.7.1.3: "/finance" matches "+/+" and "/+", not "+".
  EXPECT_TRUE(topic_matches("+/+", "/finance"));
  EXPECT_TRUE(topic_matches("/+", "/finance"));
  EXPECT_FALSE(topic_matches("+", "/finance"));
  EXPECT_TRUE(topic_matches("+", ""));
}

TEST(topic, single_level_wildcard_must_fill_a_whole_level) {
  // MQTT-4.7.1-3 and the 4.7.1.3 examples
  EXPECT_TRUE(is_valid_topic_filter("+"));
  EXPECT_TRUE(is_valid_topic_filter("+/tennis/#"));
  EXPECT_TRUE(is_valid_topic_filter("sport/+/player1"));
  EXPECT_TRUE(is_valid_topic_filter("+/+"));
  EXPECT_TRUE(is_valid_topic_filter("/+"));
  EXPECT_FALSE(is_valid_topic_filter("sport+"));
  EXPECT_FALSE(is_valid_topic_filter("sport/+x"));
  EXPECT_FALSE(is_valid_topic_filter("++"));
}

TEST(topic, wildcards_at_the_start_do_not_match_dollar_topics) {
  // MQTT-4.7.2-1 and the 4.7.2 examples
  EXPECT_FALSE(topic_matches("#", "$SYS/broker/load"));
  EXPECT_FALSE(topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("a/+", "a/$b"));
}

TEST(topic, levels_are_compared_exactly) {
  // Spec 4.7.3: case-sensitive, spaces count, a leading '/' makes a distinct level.
  EXPECT_FALSE(topic_matches("ACCOUNTS", "Accounts"));
  EXPECT_FALSE(topic_matches("Accounts payable", "Accounts"));
  EXPECT_FALSE(topic_matches("finance", "/finance"));
  EXPECT_TRUE(topic_matches("/finance", "/finance"));
  EXPECT_FALSE(topic_matches("a/b", "a/bc"));
  EXPECT_FALSE(topic_matches("a/bc", "a/b"));
  EXPECT_FALSE(topic_matches("a", "a/b"));
}

TEST(topic, topic_names_are_non_empty_and_without_wildcards) {
  // MQTT-4.7.3-1, MQTT-3.3.2-2
  EXPECT_TRUE(is_valid_topic_name("sport/tennis/player1"));
  EXPECT_TRUE(is_valid_topic_name("/"));
  EXPECT_TRUE(is_valid_topic_name("$SYS/x"));
  EXPECT_FALSE(is_valid_topic_name(""));
  EXPECT_FALSE(is_valid_topic_name("a/+"));
  EXPECT_FALSE(is_valid_topic_name("a/#"));
  EXPECT_FALSE(is_valid_topic_name(std::string("a\0b", 3)));
  EXPECT_FALSE(is_valid_topic_name(std::string(65536, 'a')));
  EXPECT_TRUE(is_valid_topic_name(std::string(65535, 'a')));
}

TEST(topic, topic_filters_are_non_empty) {
  // MQTT-4.7.3-1
  EXPECT_FALSE(is_valid_topic_filter(""));
  EXPECT_TRUE(is_valid_topic_filter("/"));
}

TEST(topic, shared_filter_needs_a_group_without_wildcards_and_a_valid_filter) {
  // MQTT-4.8.2-1, -2
  EXPECT_TRUE(is_valid_topic_filter("$share/group/sport/#"));
  EXPECT_TRUE(is_valid_topic_filter("$share/g/+"));
  EXPECT_FALSE(is_valid_topic_filter("$share//sport"));
  EXPECT_FALSE(is_valid_topic_filter("$share/gr+oup/sport"));
  EXPECT_FALSE(is_valid_topic_filter("$share/#/sport"));
  EXPECT_FALSE(is_valid_topic_filter("$share/group"));
  EXPECT_FALSE(is_valid_topic_filter("$share/group/"));
  EXPECT_FALSE(is_valid_topic_filter("$share/group/a#"));
  EXPECT_TRUE(is_valid_topic_filter("$share"));  // just a topic level named $share
}

TEST(topic, shared_filter_splits_into_group_and_filter) {
  std::string_view group;
  std::string_view plain;
  ASSERT_TRUE(split_shared_filter("$share/consumer1/sport/tennis/+", group, plain));
  EXPECT_EQ(group, "consumer1");
  EXPECT_EQ(plain, "sport/tennis/+");
  EXPECT_FALSE(split_shared_filter("sport/tennis", group, plain));
  EXPECT_FALSE(split_shared_filter("$share/nofilter", group, plain));
  EXPECT_FALSE(split_shared_filter("$SHARE/g/a", group, plain));
}

TEST(topic, utf8_strings_must_be_well_formed) {
  // MQTT-1.5.4-1
  EXPECT_TRUE(is_valid_utf8_string(""));
  EXPECT_TRUE(is_valid_utf8_string("plain ascii text, long enough for the fast path"));
  EXPECT_TRUE(is_valid_utf8_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBB\xBF"));
  EXPECT_TRUE(is_valid_utf8_string("\xF4\x8F\xBF\xBF"));   // U+10FFFF
  EXPECT_FALSE(is_valid_utf8_string("\xC3"));              // cut short
  EXPECT_FALSE(is_valid_utf8_string("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8_string("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(is_valid_utf8_string("\xF0\x80\x80\xAF"));  // overlong
  EXPECT_FALSE(is_valid_utf8_string("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8_string("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8_string("\x80"));
  EXPECT_FALSE(is_valid_utf8_string("abcdefgh\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8_string("\xE2\x28\xA1"));
}

TEST(topic, utf8_strings_must_not_contain_surrogates) {
  // MQTT-1.5.4-1: U+D800..U+DFFF
  EXPECT_FALSE(is_valid_utf8_string("\xED\xA0\x80"));
  EXPECT_FALSE(is_valid_utf8_string("\xED\xBF\xBF"));
  EXPECT_TRUE(is_valid_utf8_string("\xED\x9F\xBF"));  // U+D7FF
}

TEST(topic, utf8_strings_must_not_contain_null) {
  // MQTT-1.5.4-2, also inside the eight byte fast path
  EXPECT_FALSE(is_valid_utf8_string(std::string("a\0", 2)));
  EXPECT_FALSE(is_valid_utf8_string(std::string("abcdefg\0ijklmnop", 16)));
  EXPECT_TRUE(is_well_formed_utf8(std::string("abcdefg\0ijklmnop", 16)));
  EXPECT_FALSE(is_well_formed_utf8("\xED\xA0\x80"));
}

}  // namespace
}  // namespace mqhub::net::mqtt
