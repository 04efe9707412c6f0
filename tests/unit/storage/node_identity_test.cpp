#include "storage/node_identity.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "tests/unit/storage/temp_dir.hpp"

namespace {

using namespace mqhub::storage;
using mqhub::storage::testing::temp_dir;

std::unique_ptr<database> open_db(const std::filesystem::path& dir) {
  auto db = database::open({dir, 0, true});
  if (!db) {
    ADD_FAILURE() << db.failure().message;
    return nullptr;
  }
  return std::move(*db);
}

TEST(node_identity, a_new_database_records_the_requested_name) {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    auto name = claim_node_name(*db, "n1", "host");
    ASSERT_TRUE(name) << name.failure().message;
    EXPECT_EQ(*name, "n1");
  }
  auto db = open_db(dir.db());
  auto again = claim_node_name(*db, "n1", "host");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "n1");
}

TEST(node_identity, a_new_database_without_a_requested_name_records_the_fallback) {
  temp_dir dir;
  auto db = open_db(dir.db());
  auto name = claim_node_name(*db, "", "host");
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "host");
  auto again = claim_node_name(*db, "", "other-host");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "host");
}

TEST(node_identity, a_database_cannot_be_started_under_another_node_name) {
  temp_dir dir;
  auto db = open_db(dir.db());
  ASSERT_TRUE(claim_node_name(*db, "n1", "host"));
  auto other = claim_node_name(*db, "n2", "host");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.failure().code, errc::identity_mismatch);
  EXPECT_NE(other.failure().message.find("belongs to node 'n1'"), std::string::npos)
      << other.failure().message;
  EXPECT_NE(other.failure().message.find("--node-name n1"), std::string::npos);
}

TEST(node_identity, a_full_store_still_records_the_name) {
  temp_dir dir;
  auto opened = database::open({dir.db(), 1, true});  // a one-byte limit: full from the start
  ASSERT_TRUE(opened) << opened.failure().message;
  auto name = claim_node_name(**opened, "n1", "host");
  ASSERT_TRUE(name) << name.failure().message;
  EXPECT_EQ(*name, "n1");
}

}  // namespace
