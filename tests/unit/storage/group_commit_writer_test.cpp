#include "storage/group_commit_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/storage/temp_dir.hpp"

namespace {

using namespace mqhub::storage;
using mqhub::storage::testing::temp_dir;

std::unique_ptr<database> open_db(const std::filesystem::path& dir) {
  auto db = database::open({dir});
  if (!db) {
    throw std::runtime_error(db.failure().message);
  }
  return std::move(*db);
}

write_batch small_batch(size_t thread, size_t i) {
  write_batch b;
  b.put(column::hub, "t" + std::to_string(thread) + "/" + std::to_string(i), "value");
  return b;
}

bool has_row(const database& db, const std::string& key) {
  auto v = db.get(column::hub, key);
  return v && v->has_value();
}

// Issue: "group commit batching": concurrent submitters share groups and every callback runs exactly once.
TEST(group_commit_writer, concurrent_submits_share_groups_and_each_callback_runs_once) {
  temp_dir dir;
  auto db = open_db(dir.db());
  constexpr size_t threads = 8;
  constexpr size_t per_thread = 100;
  std::vector<std::atomic<int>> calls(threads * per_thread);
  std::atomic<int> failures{0};
  {
    group_commit_writer writer(*db, {durability::sync});
    std::vector<std::thread> submitters;
    submitters.reserve(threads);
    for (size_t t = 0; t < threads; ++t) {
      submitters.emplace_back([&, t] {
        for (size_t i = 0; i < per_thread; ++i) {
          writer.submit(small_batch(t, i), [&, n = t * per_thread + i](const status& s) {
            calls[n].fetch_add(1);
            if (!s) {
              failures.fetch_add(1);
            }
          });
        }
      });
    }
    for (auto& s : submitters) {
      s.join();
    }
    writer.stop();
    const auto stats = writer.stats();
    EXPECT_EQ(stats.batches, threads * per_thread);
    EXPECT_LT(stats.groups, stats.batches);
    EXPECT_GT(stats.batches_per_group(), 1.0);
  }
  EXPECT_EQ(failures.load(), 0);
  for (size_t n = 0; n < calls.size(); ++n) {
    ASSERT_EQ(calls[n].load(), 1) << "batch " << n;
  }
  EXPECT_TRUE(has_row(*db, "t7/99"));
}

TEST(group_commit_writer, everything_queued_during_a_write_goes_in_the_next_group) {
  temp_dir dir;
  auto db = open_db(dir.db());
  group_commit_writer writer(*db, {durability::wal});
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> holding;
  // The first callback holds the writer, so the next 50 batches queue up behind it.
  writer.submit(small_batch(0, 0), [&, released](const status&) {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();
  std::atomic<int> done{0};
  for (int i = 1; i <= 50; ++i) {
    writer.submit(small_batch(0, i), [&](const status&) { done.fetch_add(1); });
  }
  release.set_value();
  writer.stop();
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(writer.stats().groups, 2u);
  EXPECT_EQ(writer.stats().largest_group, 50u);
}

TEST(group_commit_writer, stop_drains_the_queue) {
  temp_dir dir;
  auto db = open_db(dir.db());
  std::atomic<int> ok{0};
  {
    group_commit_writer writer(*db, {durability::sync});
    for (int i = 0; i < 100; ++i) {
      writer.submit(small_batch(1, i), [&](const status& s) { ok.fetch_add(s ? 1 : 0); });
    }
  }  // the destructor stops the writer
  EXPECT_EQ(ok.load(), 100);
  EXPECT_TRUE(has_row(*db, "t1/99"));
}

TEST(group_commit_writer, submit_after_stop_reports_shutting_down) {
  temp_dir dir;
  auto db = open_db(dir.db());
  group_commit_writer writer(*db, {durability::sync});
  writer.stop();
  std::optional<errc> code;
  writer.submit(small_batch(0, 0),
                [&](const status& s) { code = s ? std::nullopt : std::optional(s.failure().code); });
  EXPECT_EQ(code, errc::shutting_down);
  write_batch batch = small_batch(0, 1);
  commit_callback cb = [](const status&) {};
  EXPECT_FALSE(writer.try_submit(batch, cb));
}

TEST(group_commit_writer, try_submit_refuses_over_the_byte_limit_and_submit_waits) {
  temp_dir dir;
  auto db = open_db(dir.db());
  group_commit_writer writer(*db, {durability::wal, 40});
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> holding;
  writer.submit(small_batch(0, 0), [&, released](const status&) {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();  // the first group is written and its bytes are released; the writer is held
  write_batch first = small_batch(0, 1);
  commit_callback cb = [](const status&) {};
  ASSERT_TRUE(writer.try_submit(first, cb));  // an empty queue takes any batch
  write_batch second = small_batch(0, 2);
  commit_callback cb2 = [](const status&) {};
  EXPECT_FALSE(writer.try_submit(second, cb2));
  EXPECT_EQ(second.operations().size(), 1u);  // left with the caller
  EXPECT_TRUE(cb2);

  std::atomic<bool> submitted{false};
  std::thread blocked([&] {
    writer.submit(small_batch(0, 3), [](const status&) {});
    submitted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(submitted.load());
  release.set_value();
  blocked.join();
  EXPECT_TRUE(submitted.load());
}

TEST(group_commit_writer, store_full_refuses_growing_batches_only) {
  temp_dir dir;
  auto db = database::open({dir.db(), 1});
  ASSERT_TRUE(db);
  group_commit_writer writer(**db, {durability::sync});
  std::promise<status> grow_result;
  std::promise<status> shrink_result;
  writer.submit(small_batch(0, 0), [&](const status& s) { grow_result.set_value(s); });
  write_batch shrink;
  shrink.del(column::hub, "t0/0");
  writer.submit(std::move(shrink), [&](const status& s) { shrink_result.set_value(s); });
  auto grow = grow_result.get_future().get();
  ASSERT_FALSE(grow);
  EXPECT_EQ(grow.failure().code, errc::store_full);
  EXPECT_TRUE(shrink_result.get_future().get());
}

TEST(group_commit_writer, store_full_still_commits_a_batch_whose_deliveries_went_out) {
  temp_dir dir;
  auto db = database::open({dir.db(), 1});
  ASSERT_TRUE(db);
  group_commit_writer writer(**db, {durability::sync});
  EXPECT_TRUE(writer.over_size_limit());  // shards hold their deliveries until the commit
  auto delivered = small_batch(0, 0);
  delivered.set_delivered();
  std::promise<status> result;
  writer.submit(std::move(delivered), [&](const status& s) { result.set_value(s); });
  EXPECT_TRUE(result.get_future().get());
  EXPECT_TRUE(has_row(**db, "t0/0"));
}

TEST(durability, parses_the_config_values_and_nothing_else) {
  for (auto mode : {durability::sync, durability::wal, durability::memory}) {
    EXPECT_EQ(parse_durability(to_string(mode)), mode);
  }
  EXPECT_FALSE(parse_durability("SYNC"));
  EXPECT_FALSE(parse_durability(""));
}

TEST(group_commit_writer, memory_mode_has_no_writer) {
  temp_dir dir;
  auto db = open_db(dir.db());
  EXPECT_THROW(group_commit_writer(*db, {durability::memory}), std::invalid_argument);
}

// Issue: "durability = sync | wal": an acknowledged batch is in the WAL, so a process that dies without
// closing the database loses nothing it acknowledged. The child re-runs this test body (threadsafe death
// tests re-execute the binary), so the directory is named after the parent's pid.
void acknowledged_batches_survive_a_crash(durability mode) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto dir = [mode](pid_t parent) {
    return std::filesystem::temp_directory_path() /
           ("mqhub-storage-crash-" + std::to_string(parent) + "-" + std::string(to_string(mode)));
  };
  const auto mine = dir(getpid());
  std::filesystem::remove_all(mine);
  EXPECT_EXIT(
      {
        auto db = open_db(dir(getppid()));
        auto* writer = new group_commit_writer(*db, {mode});
        std::promise<void> all;
        std::atomic<int> left{20};
        for (int i = 0; i < 20; ++i) {
          writer->submit(small_batch(2, i), [&](const status& s) {
            if (s && --left == 0) {
              all.set_value();
            }
          });
        }
        all.get_future().wait();
        std::_Exit(0);  // no destructor: the database is never closed or flushed
      },
      ::testing::ExitedWithCode(0), "");
  {
    auto db = open_db(mine);
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(has_row(*db, "t2/" + std::to_string(i))) << to_string(mode) << " row " << i;
    }
  }
  std::filesystem::remove_all(mine);
}

TEST(group_commit_writer, sync_mode_acknowledged_batches_survive_a_process_crash) {
  acknowledged_batches_survive_a_crash(durability::sync);
}

TEST(group_commit_writer, wal_mode_acknowledged_batches_survive_a_process_crash) {
  acknowledged_batches_survive_a_crash(durability::wal);
}

}  // namespace
